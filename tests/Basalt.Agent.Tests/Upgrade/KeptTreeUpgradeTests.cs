using System.Text.Json.Nodes;
using Basalt.Agent.Install;
using Basalt.Agent.Journal;
using Basalt.Agent.Upgrade;
using Basalt.Config.Stages;
using Basalt.Oci.Images;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>
/// The staged tree kept by the chain ID of its layers: an upgrade whose layers start with that chain applies only the
/// layers above it; a chain that does not match is a miss; a cut anywhere never leaves a tree under a chain it does not hold.
/// </summary>
public sealed class KeptTreeUpgradeTests
{
    private static UpgradeService Service(FakeNode node, RegistryClient registry, SwapHooks? hooks = null, LifecycleStages? stages = null) => new(
        node.Paths,
        new ImageService(new BlobStore(node.Paths.BlobStore), registry),
        node.Tools,
        node.Slots,
        node.History,
        node.Probe,
        new UpgradeServiceOptions { StreamLayersIntoImage = false },
        hooks: hooks,
        stages: stages);

    /// <summary>v1 = [base]; v2 = [base, marker layer that also deletes etc/obsolete]; v3 = [other base].</summary>
    private static async Task<(string V1, string V2, string V3)> ImagesAsync(FakeNode node)
    {
        var layout = node.Combine("layout");
        var lower = LayeredImages.Layer(node.Combine("l-base"), ("etc/version", "v1"), ("etc/obsolete", "old"), ("usr/bin/tool", "t"));
        var upper = LayeredImages.Layer(node.Combine("l-marker"), ("etc/version", "v2"), ("etc/marker", "v2"), ("etc/.wh.obsolete", string.Empty));
        var other = LayeredImages.Layer(node.Combine("l-other"), ("etc/version", "v3"));
        return (await LayeredImages.WriteAsync(layout, "v1", lower),
                await LayeredImages.WriteAsync(layout, "v2", lower, upper),
                await LayeredImages.WriteAsync(layout, "v3", other));
    }

    private static string ChainOf(UpgradeResult result) => result.Plan.ChainId ?? throw new InvalidOperationException("no chain");

    [Fact]
    public async Task The_staged_tree_is_kept_under_its_chain_and_the_next_upgrade_applies_only_the_new_layer()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (v1, v2, _) = await ImagesAsync(node);
        var service = Service(node, registry);

        var first = await service.UpgradeAsync(new UpgradeRequest(v1));

        Assert.Null(first.Plan.ReusedTree);
        Assert.Equal(0, first.LayersReused);
        Assert.Equal([ChainOf(first)], service.KeptTrees.List());
        Assert.Equal(ChainOf(first), first.Plan.KeepTreeAs);
        Assert.Contains("keep-staged-tree", first.Plan.Steps);
        Assert.False(Directory.Exists(service.StagingDirectory));

        var second = await service.UpgradeAsync(new UpgradeRequest(v2));

        Assert.Equal(new KeptTreeUse(ChainOf(first), 1), second.Plan.ReusedTree);
        Assert.Equal(1, second.LayersReused);
        Assert.Contains("reuse-kept-tree-as-staging", second.Plan.Steps);
        Assert.DoesNotContain("unpack-to-staging", second.Plan.Steps);
        node.AssertBootable(["v2"], ["v1"]);
        // Only one tree is kept: v2's, with the whiteout honoured.
        Assert.Equal([ChainOf(second)], service.KeptTrees.List());
        var tree = service.KeptTrees.PathOf(ChainOf(second));
        Assert.Equal("v2", File.ReadAllText(Path.Combine(tree, "etc", "marker")));
        Assert.False(File.Exists(Path.Combine(tree, "etc", "obsolete")));
        Assert.Equal("t", File.ReadAllText(Path.Combine(tree, "usr", "bin", "tool")));
        Assert.Contains(second.Phases, p => p.Phase == UpgradePhases.Stage);
        Assert.Contains(second.Phases, p => p.Phase == UpgradePhases.Build);
    }

    [Fact]
    public async Task A_kept_tree_of_another_chain_is_a_miss_it_is_dropped_and_the_image_fully_unpacked()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (_, v2, v3) = await ImagesAsync(node);
        var service = Service(node, registry);
        var first = await service.UpgradeAsync(new UpgradeRequest(v3));

        var second = await service.UpgradeAsync(new UpgradeRequest(v2));

        Assert.Null(second.Plan.ReusedTree);
        Assert.Equal([ChainOf(first)], second.Plan.DroppedTrees);
        Assert.Equal(0, second.LayersReused);
        node.AssertBootable(["v2"], ["v3"]);
        Assert.Equal([ChainOf(second)], service.KeptTrees.List());
    }

    [Fact]
    public async Task A_tree_under_a_name_that_is_no_chain_is_ignored_and_removed()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (v1, _, _) = await ImagesAsync(node);
        var service = Service(node, registry);
        var junk = Path.Combine(node.Paths.TreeCacheDirectory, ".drop-123");
        Directory.CreateDirectory(Path.Combine(junk, "etc"));

        var result = await service.UpgradeAsync(new UpgradeRequest(v1));

        Assert.Null(result.Plan.ReusedTree);
        Assert.False(Directory.Exists(junk));
        Assert.Equal([ChainOf(result)], service.KeptTrees.List());
    }

    [Fact]
    public async Task A_chroot_stage_that_changes_the_tree_means_it_is_not_kept()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (v1, _, _) = await ImagesAsync(node);
        var stages = new LifecycleStages(
            new StageRunner(node.Tools),
            [StageSource.FromStages("/oem/lifecycle.yaml", JsonNode.Parse("""{"after-upgrade-chroot": [{"files": [{"path": "/etc/extra", "content": "x"}]}]}"""))]);

        var result = await Service(node, registry, stages: stages).UpgradeAsync(new UpgradeRequest(v1));

        Assert.Null(result.Plan.KeepTreeAs);
        Assert.DoesNotContain("keep-staged-tree", result.Plan.Steps);
        Assert.Empty(Service(node, registry).KeptTrees.List());
        Assert.False(Directory.Exists(Service(node, registry).StagingDirectory));
    }

    [Fact]
    public async Task Without_the_option_the_staged_tree_is_deleted_as_before()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (v1, _, _) = await ImagesAsync(node);
        var service = new UpgradeService(node.Paths, new ImageService(new BlobStore(node.Paths.BlobStore), registry), node.Tools, node.Slots, node.History, node.Probe, new UpgradeServiceOptions { KeepUnpackedTree = false, StreamLayersIntoImage = false });

        var result = await service.UpgradeAsync(new UpgradeRequest(v1));

        Assert.Null(result.Plan.KeepTreeAs);
        Assert.Empty(service.KeptTrees.List());
        Assert.False(Directory.Exists(service.StagingDirectory));
    }

    [Theory]
    [MemberData(nameof(UpgradeServiceTests.EveryCut), MemberType = typeof(UpgradeServiceTests))]
    public async Task A_cut_at_any_step_of_an_upgrade_from_a_kept_tree_never_leaves_a_tree_under_a_chain_it_does_not_hold(SwapStep step, bool afterStep)
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (v1, v2, _) = await ImagesAsync(node);
        var v1Chain = ChainOf(await Service(node, registry).UpgradeAsync(new UpgradeRequest(v1)));
        var hooks = afterStep ? PowerCuts.After(step) : PowerCuts.Before(step);

        await Assert.ThrowsAsync<PowerCutException>(() => Service(node, registry, hooks).UpgradeAsync(new UpgradeRequest(v2)));
        AssertTreesHoldTheirChains(node, v1Chain);
        var recovery = await Service(node, registry).RecoverAsync();

        AssertTreesHoldTheirChains(node, v1Chain);
        Assert.False(Directory.Exists(Service(node, registry).StagingDirectory));
        var kept = Service(node, registry).KeptTrees.List();
        Assert.True(kept.Count <= 1, $"one tree at most, found {string.Join(", ", kept)}");
        if (recovery.Outcome == RecoveryOutcome.Completed)
        {
            // The swap was completed: its staged tree is kept as v2's.
            Assert.NotEqual(v1Chain, Assert.Single(kept));
        }

        var next = await Service(node, registry).UpgradeAsync(new UpgradeRequest(v2));
        Assert.Equal(recovery.Outcome == RecoveryOutcome.Completed, next.Plan.NoOp);
        node.AssertBootable(["v2"], ["v1"]);
        AssertTreesHoldTheirChains(node, v1Chain);
    }

    [Fact]
    public async Task A_cut_while_the_kept_tree_is_renamed_into_place_leaves_it_for_recovery_to_keep()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var (v1, _, _) = await ImagesAsync(node);
        // The cut falls after the last step, while the staged tree is kept: the journal is still there.
        await Assert.ThrowsAsync<PowerCutException>(() => Service(node, registry, PowerCuts.After(SwapStep.RecordingHistory)).UpgradeAsync(new UpgradeRequest(v1)));
        Assert.True(Directory.Exists(Service(node, registry).StagingDirectory));

        var recovery = await Service(node, registry).RecoverAsync();

        Assert.Equal(RecoveryOutcome.Completed, recovery.Outcome);
        Assert.False(Directory.Exists(Service(node, registry).StagingDirectory));
        Assert.Single(Service(node, registry).KeptTrees.List());
    }

    /// <summary>Every kept tree holds exactly what its chain names: v1's has no marker and keeps etc/obsolete; v2's the reverse.</summary>
    private static void AssertTreesHoldTheirChains(FakeNode node, string v1Chain)
    {
        var store = new KeptTreeStore(node.Paths.TreeCacheDirectory);
        foreach (var chain in store.List())
        {
            var tree = store.PathOf(chain);
            var isV1 = chain == v1Chain;
            Assert.Equal(isV1 ? "v1" : "v2", File.ReadAllText(Path.Combine(tree, "etc", "version")));
            Assert.Equal(!isV1, File.Exists(Path.Combine(tree, "etc", "marker")));
            Assert.Equal(isV1, File.Exists(Path.Combine(tree, "etc", "obsolete")));
        }
    }
}
