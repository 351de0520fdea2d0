using System.Text.Json;
using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Boot.Grub;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

public sealed class StateCommandTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _root = new("cli-node");
    private readonly NodePaths _paths;

    public StateCommandTests()
    {
        _paths = NodePaths.Under(_root.Path);
        Directory.CreateDirectory(_paths.SentinelDirectory);
        Directory.CreateDirectory(_paths.OemMount);
        Directory.CreateDirectory(Path.GetDirectoryName(_paths.KernelCommandLine)!);
        File.WriteAllText(_paths.KernelCommandLine, "root=LABEL=COS_PASSIVE cos-img/filename=/cOS/passive.img console=ttyS0\n");
        File.WriteAllText(Path.Combine(_paths.SentinelDirectory, "passive_mode"), "1");
        new SlotStore(_paths.SlotsFile).Write(SlotTable.From(
        [
            new SlotInfo(SlotNames.Active, "registry.local/os:v3", "sha256:33", Now.AddDays(-1), Now),
            new SlotInfo(SlotNames.Passive, "registry.local/os:v2", "sha256:22", Now.AddDays(-9), Now.AddDays(-8)),
        ]));
    }

    public void Dispose() => _root.Dispose();

    private void Grubenv(params (string Key, string Value)[] variables)
    {
        var environment = GrubEnvironment.Create();
        foreach (var (key, value) in variables)
        {
            environment.Set(key, value);
        }

        environment.Save(_paths.GrubEnvironment);
    }

    [Fact]
    public async Task State_as_json_shows_the_slot_images_counting_and_the_fallback_mark_good_recorded()
    {
        Grubenv((GrubEnvironmentKeys.ActiveTriesLeft, "0"), (GrubEnvironmentKeys.PassiveTriesLeft, "2"),
            (GrubEnvironmentKeys.LastBootEntry, "fallback"), (GrubEnvironmentKeys.FallbackReason, "active: no tries left"));

        var marked = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "mark-good", "--node-root", _root.Path);
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "state", "--node-root", _root.Path, "-o", "json");

        Assert.Equal(0, marked.ExitCode);
        Assert.Contains("upgrade_failure", marked.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(_paths.UpgradeFailureSentinel));
        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        var state = document.RootElement;
        Assert.Equal("passive", state.GetProperty("bootMode").GetString());
        Assert.Equal("passive", state.GetProperty("bootedSlot").GetString());
        Assert.Equal("registry.local/os:v3", state.GetProperty("slots")[0].GetProperty("imageReference").GetString());
        Assert.Equal("sha256:22", state.GetProperty("slots")[1].GetProperty("digest").GetString());
        Assert.Equal(0, state.GetProperty("bootCounting").GetProperty("activeTriesLeft").GetInt32());
        var fallback = state.GetProperty("lastFallback");
        Assert.Equal("active: no tries left", fallback.GetProperty("reason").GetString());
        Assert.Equal("registry.local/os:v3", fallback.GetProperty("failedImageReference").GetString());
        Assert.Equal(LifecycleOperations.Fallback, state.GetProperty("history")[0].GetProperty("operation").GetString());
        Assert.Equal(4, state.GetProperty("partitions").GetArrayLength());
    }

    [Fact]
    public async Task State_as_text_names_the_booted_slot_and_the_images()
    {
        Grubenv();

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "state", "--node-root", _root.Path);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("booted slot:  passive", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("registry.local/os:v2", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("last fallback: none", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bootentry_select_without_a_disk_sets_the_nodes_one_shot_entry()
    {
        Grubenv((GrubEnvironmentKeys.ExtraCmdline, "quiet"));

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "bootentry", "--select", "recovery", "--node-root", _root.Path, "-o", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Equal("recovery", document.RootElement.GetProperty("nextEntry").GetString());
        var after = GrubEnvironment.Load(_paths.GrubEnvironment);
        Assert.Equal("recovery", after.Get(GrubEnvironmentKeys.NextEntry));
        Assert.Equal("quiet", after.Get(GrubEnvironmentKeys.ExtraCmdline));
    }

    [Fact]
    public async Task Bootentry_without_select_lists_the_entries_and_the_default()
    {
        Grubenv();

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "bootentry", "--node-root", _root.Path);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("cos", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("default", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("statereset", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bootentry_on_a_node_without_a_grubenv_is_a_clear_error()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "bootentry", "--select", "fallback", "--node-root", _root.Path);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(_paths.GrubEnvironment, run.Stderr, StringComparison.Ordinal);
        Assert.Contains("hint:", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_paths.GrubEnvironment));
    }
}
