using System.Text.Json;
using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

public sealed class RecoverCommandTests : IDisposable
{
    private readonly TempDirectory _root = new("cli-recover");
    private readonly NodePaths _paths;

    public RecoverCommandTests()
    {
        _paths = NodePaths.Under(_root.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(_paths.ActiveImage)!);
        Directory.CreateDirectory(_paths.OemMount);
        Directory.CreateDirectory(_paths.AgentDirectory);
    }

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Recover_without_a_journal_says_there_is_nothing_to_do()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "recover", "--boot", "--node-root", _root.Path);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("nothing to recover", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recover_at_boot_undoes_an_upgrade_cut_while_its_image_was_written_and_reports_it_as_json()
    {
        var started = new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);
        new SwapJournalStore(_paths.Journal).Write(new SwapJournal
        {
            Operation = LifecycleOperations.Upgrade,
            Step = SwapStep.Preparing,
            StartedAt = started,
            NewActive = new JournalSlot("registry.local/os:v2", "sha256:22", null, started),
            StagingDirectory = Path.Combine(_paths.AgentDirectory, "staging"),
        });
        Directory.CreateDirectory(Path.Combine(_paths.AgentDirectory, "staging", "etc"));
        var half = Path.Combine(Path.GetDirectoryName(_paths.TransitionImage)!, ".transition.img.tmp-cut");
        await File.WriteAllTextAsync(half, "half an image");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "recover", "--boot", "--node-root", _root.Path, "-o", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Equal("rolledback", document.RootElement.GetProperty("outcome").GetString());
        Assert.Equal("Preparing", document.RootElement.GetProperty("interruptedAt").GetString());
        Assert.False(File.Exists(_paths.Journal));
        Assert.False(File.Exists(half));
        Assert.False(Directory.Exists(Path.Combine(_paths.AgentDirectory, "staging")));
        var record = Assert.Single(await new FileLifecycleHistory(_paths.History).ReadAsync());
        Assert.Equal(LifecycleOperations.RolledBack, record.Outcome);
    }
}
