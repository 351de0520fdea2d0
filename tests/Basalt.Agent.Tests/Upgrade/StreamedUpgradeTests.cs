using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Upgrade;
using Basalt.Boot.Grub;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>
/// The streamed upgrade on a fake node: the layers go straight into a real ext4 transition image (no root, no
/// mkfs.ext4), the old fake active becomes passive, and space and power cuts are handled as in the staged upgrade.
/// </summary>
public sealed class StreamedUpgradeTests
{
    private static UpgradeService Service(FakeNode node, RegistryClient registry, SwapHooks? hooks = null) => node.Upgrades(registry, hooks: hooks);

    private static string MakeTree(FakeNode node, string version, int payloadMebibytes = 0) => node.MakeSourceTree(version, payloadMebibytes);

    [Fact]
    public async Task Upgrade_streams_the_layers_into_a_real_ext4_image_with_no_mkfs_and_installs_its_menu()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        node.Tools.Missing.Add("mkfs.ext4");
        var kept = Path.Combine(node.Paths.TreeCacheDirectory, "sha256-" + new string('4', 64));
        Directory.CreateDirectory(Path.Combine(kept, "etc"));

        var result = await Service(node, registry).UpgradeAsync(new UpgradeRequest(MakeTree(node, "T"), BootTries: 2));

        Assert.True(result.Changed);
        Assert.True(result.Plan.Streamed);
        Assert.Equal(SlotLabels.Active, SlotImageFiles.ReadLabel(node.Paths.ActiveImage));
        Assert.Equal(result.Plan.TransitionBytes, new FileInfo(node.Paths.ActiveImage).Length);
        Assert.Equal(SlotLabels.Passive, node.Label(node.Paths.PassiveImage));
        Assert.Equal("A", FakeNode.ReadPayload(node.Paths.PassiveImage));
        Assert.DoesNotContain(node.Tools.Calls, call => call.StartsWith("mkfs.ext4", StringComparison.Ordinal));
        Assert.Equal("# menu of T\n", await File.ReadAllTextAsync(Path.Combine(node.Paths.StateMount, "grub2", "grub.cfg")));
        Assert.Equal("2", node.GrubVariables()[GrubEnvironmentKeys.ActiveTriesLeft]);
        Assert.Equal(result.Plan.Digest, node.Slots.ReadActive()?.Digest);
        // Nothing unpacked stays on COS_PERSISTENT: no staging, and the kept tree nothing builds on any more is gone.
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging")));
        Assert.False(Directory.Exists(kept));
        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.Equal(LifecycleOperations.Succeeded, Assert.Single(await node.History.ReadAsync()).Outcome);
    }

    [Fact]
    public async Task An_image_that_outgrows_the_free_space_on_state_while_it_is_written_is_refused_and_nothing_changes()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T", payloadMebibytes: 40);
        // Room for the layer itself and the margin, which the preflight checks; not for the image's headroom and metadata.
        node.Probe.Available[node.Paths.StateMount] = (41L << 20) + UpgradePlanner.StateMarginBytes;

        var error = await Assert.ThrowsAsync<NotEnoughSpaceException>(() => Service(node, registry).UpgradeAsync(new UpgradeRequest(source)));

        Assert.Equal("COS_STATE", error.Partition);
        node.AssertBootable(["A"], ["P"]);
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(node.Paths.TransitionImage)!, ".transition.img.tmp-*"));
        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging")));
        // Refused while writing, not by the preflight: the layer had been fetched.
        Assert.NotEmpty(new BlobStore(node.Paths.BlobStore).List());
        Assert.Equal(LifecycleOperations.Failed, Assert.Single(await node.History.ReadAsync()).Outcome);
    }

    [Fact]
    public async Task A_cut_while_the_layers_are_streamed_into_the_image_leaves_the_old_images_and_is_rolled_back()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T", payloadMebibytes: 200);
        var hooks = PowerCutHooks.For(
            PowerCutSetting.Parse("image-write:512K"),
            at => throw new PowerCutException($"power cut at {at.Text}"),
            e => e is PowerCutException);

        var cut = await Assert.ThrowsAsync<PowerCutException>(() => Service(node, registry, hooks).UpgradeAsync(new UpgradeRequest(source)));

        Assert.Contains("image-write:524288", cut.Message, StringComparison.Ordinal);
        Assert.Equal(SwapStep.Preparing, new SwapJournalStore(node.Paths.Journal).Read()?.Step);
        node.AssertBootable(["A"], ["P"]);
        Assert.False(File.Exists(node.Paths.TransitionImage));

        var recovery = await Service(node, registry).RecoverAsync();

        Assert.Equal((RecoveryOutcome.RolledBack, SwapStep.Preparing), (recovery.Outcome, recovery.InterruptedAt));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(node.Paths.TransitionImage)!, ".transition.img.tmp-*"));
        var next = await Service(node, registry).UpgradeAsync(new UpgradeRequest(source));
        Assert.True(next.Changed);
        Assert.Equal(SlotLabels.Active, SlotImageFiles.ReadLabel(node.Paths.ActiveImage));
        Assert.Equal("A", FakeNode.ReadPayload(node.Paths.PassiveImage));
    }
}
