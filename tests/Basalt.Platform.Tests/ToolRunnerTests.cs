using Basalt.Platform;

namespace Basalt.Platform.Tests;

public sealed class ToolRunnerTests
{
    private readonly ToolRunner _runner = new();

    [Fact]
    public void A_command_in_a_root_runs_through_chroot_with_the_roots_own_tmp_and_the_callers_environment()
    {
        var invocation = ToolInvocation.InRoot("/srv/root", ["apt-get", "update"], new Dictionary<string, string> { ["LC_ALL"] = "C" });

        Assert.Equal("chroot", invocation.Tool);
        Assert.Equal(["/srv/root", "apt-get", "update"], invocation.Arguments);
        Assert.Equal("coreutils", invocation.Package);
        Assert.Equal("/tmp", invocation.Environment!["TMPDIR"]);
        Assert.Equal("C", invocation.Environment["LC_ALL"]);
    }

    [Fact]
    public async Task A_successful_tool_returns_its_output()
    {
        var result = await _runner.RunAsync(new ToolInvocation("sh", ["-c", "printf out; printf err >&2"]));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("out", result.StandardOutput);
        Assert.Equal("err", result.StandardError);
    }

    [Fact]
    public async Task A_failing_tool_becomes_a_typed_error_carrying_its_stderr_and_command_line()
    {
        var error = await Assert.ThrowsAsync<ToolFailedException>(() =>
            _runner.RunAsync(new ToolInvocation("sh", ["-c", "echo 'disk full' >&2; exit 3"])));

        Assert.Equal(3, error.ExitCode);
        Assert.Contains("disk full", error.Message);
        Assert.Contains("sh -c", error.CommandLine);
    }

    [Fact]
    public async Task Extra_success_codes_are_honoured()
    {
        var result = await _runner.RunAsync(new ToolInvocation("sh", ["-c", "exit 1"]) { SuccessExitCodes = [0, 1] });

        Assert.Equal(1, result.ExitCode);
    }

    [Fact]
    public async Task A_missing_tool_names_the_package_to_install()
    {
        var error = await Assert.ThrowsAsync<ToolNotFoundException>(() =>
            _runner.RunAsync(new ToolInvocation("basalt-no-such-tool", []) { Package = "basalt-no-such-package" }));

        Assert.Equal("basalt-no-such-tool", error.Tool);
        Assert.Contains("apt-get install basalt-no-such-package", error.Hint);
    }

    [Fact]
    public async Task Standard_input_and_a_stream_for_standard_output_are_connected()
    {
        using var input = new MemoryStream("hello"u8.ToArray());
        using var output = new MemoryStream();

        await _runner.RunAsync(new ToolInvocation("cat", []) { StandardInput = input, StandardOutput = output });

        Assert.Equal("hello"u8.ToArray(), output.ToArray());
    }

    [Fact]
    public async Task A_tool_that_overruns_its_timeout_is_killed_and_reported()
    {
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<ToolFailedException>(() =>
            _runner.RunAsync(new ToolInvocation("sleep", ["30"]) { Timeout = TimeSpan.FromMilliseconds(300) }));

        Assert.Contains("timed out", error.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("with space", "'with space'")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("", "''")]
    public void Command_lines_quote_arguments_the_way_a_shell_reads_them(string argument, string expected)
    {
        Assert.Equal($"tool {expected}", new ToolInvocation("tool", [argument]).CommandLine);
    }
}
