using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Platform.Tests;

public sealed class BackgroundProcessTests
{
    private readonly ToolRunner _tools = new();

    [Fact]
    public async Task A_prompt_without_a_newline_is_seen_and_input_reaches_the_program()
    {
        using var directory = new TempDirectory("bg");
        await using var process = BackgroundProcess.Start(
            new ToolInvocation("sh", ["-c", "printf 'login: '; read name; echo \"hello $name\""]), _tools, directory.Combine("log"));

        await process.WaitForLineAsync(line => line.EndsWith("login: ", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        await process.SendAsync("basalt\n");
        // The reply lands on the prompt's line, as on a real console.
        var greeting = await process.WaitForLineAsync(line => line.Contains("hello", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        Assert.Equal("login: hello basalt", greeting);
        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("hello basalt", await File.ReadAllTextAsync(directory.Combine("log")));
    }

    [Fact]
    public async Task Waiting_ends_with_a_clear_error_when_the_program_exits_first()
    {
        await using var process = BackgroundProcess.Start(new ToolInvocation("sh", ["-c", "echo bye; exit 4"]), _tools);

        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            process.WaitForLineAsync(line => line == "never", TimeSpan.FromSeconds(30)));

        Assert.Contains("exited with code 4", error.Message);
    }

    [Fact]
    public async Task A_restart_runs_the_program_again_in_the_same_output_and_a_wait_across_it_goes_on()
    {
        using var directory = new TempDirectory("bg");
        var runs = directory.Combine("runs");
        await using var process = BackgroundProcess.Start(
            new ToolInvocation("sh", ["-c", $"echo x >> '{runs}'; echo \"run $(wc -l < '{runs}')\"; read line; echo \"got $line\"; sleep 60"]), _tools, directory.Combine("log"));
        await process.WaitForLineAsync(line => line == "run 1", TimeSpan.FromSeconds(20));
        var firstId = process.ProcessId;

        // A wait begun before the restart ends with the new run's line, not with the old run's exit.
        var waiting = process.WaitForLineAsync(line => line == "run 2", TimeSpan.FromSeconds(30), process.OutputLength);
        await process.RestartAsync("restarted by the test");

        Assert.Equal("run 2", await waiting);
        Assert.False(process.HasExited);
        Assert.NotEqual(firstId, process.ProcessId);
        await process.SendAsync("hello\n");
        await process.WaitForLineAsync(line => line == "got hello", TimeSpan.FromSeconds(20));
        Assert.Matches("(?s)run 1\n.*restarted by the test\n.*run 2\n.*got hello", process.Output);
        Assert.Contains("restarted by the test", await File.ReadAllTextAsync(directory.Combine("log")));

        await process.KillAsync();
        Assert.True(process.HasExited);
        await Assert.ThrowsAsync<InvalidOperationException>(() => process.RestartAsync("too late"));
    }

    [Fact]
    public async Task A_restart_that_cannot_start_the_program_again_leaves_it_ended()
    {
        using var directory = new TempDirectory("bg");
        var script = directory.Combine("once.sh");
        // The program removes itself: the restart finds nothing to start.
        await File.WriteAllTextAsync(script, "#!/bin/sh\nrm -f \"$0\"\necho started\nexec sleep 60\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var process = BackgroundProcess.Start(new ToolInvocation(script, []), _tools);
        await process.WaitForLineAsync(line => line == "started", TimeSpan.FromSeconds(20));

        await Assert.ThrowsAnyAsync<Exception>(() => process.RestartAsync("restarting a program that is gone"));

        Assert.True(process.HasExited);
        await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Output_after_an_offset_is_all_that_counts()
    {
        await using var process = BackgroundProcess.Start(new ToolInvocation("sh", ["-c", "echo marker; read _; echo marker; sleep 30"]), _tools);
        await process.WaitForLineAsync(line => line == "marker", TimeSpan.FromSeconds(20));
        var offset = process.OutputLength;

        var waiting = process.WaitForLineAsync(line => line == "marker", TimeSpan.FromSeconds(20), offset);
        Assert.False(waiting.IsCompleted);
        await process.SendAsync("\n");

        Assert.Equal("marker", await waiting);
    }

    [Fact]
    public async Task Disposing_kills_the_program_and_its_children()
    {
        var process = BackgroundProcess.Start(new ToolInvocation("sh", ["-c", "sleep 300 & echo $!; wait"]), _tools);
        var child = int.Parse(await process.WaitForLineAsync(line => int.TryParse(line, out _), TimeSpan.FromSeconds(20)));

        await process.DisposeAsync();

        Assert.True(process.HasExited);
        Assert.False(Directory.Exists($"/proc/{child}") && !File.ReadAllText($"/proc/{child}/stat").Contains(") Z ", StringComparison.Ordinal));
    }
}
