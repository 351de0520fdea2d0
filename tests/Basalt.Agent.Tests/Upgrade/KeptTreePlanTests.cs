using Basalt.Agent.Upgrade;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>The plan's decisions about the kept tree: which one is reused, which go, the space check, the steps, the names.</summary>
public sealed class KeptTreePlanTests
{
    private const string NewDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string OldDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    private const long Base = 300L << 20;
    private const long Marker = 5L << 20;

    private static readonly string BaseDiff = Diff("base");
    private static readonly string MarkerDiff = Diff("marker");
    private static readonly string BaseChain = LayerChain.ChainId([Digest.Parse(BaseDiff)]).Value;
    private static readonly string FullChain = LayerChain.ChainId([Digest.Parse(BaseDiff), Digest.Parse(MarkerDiff)]).Value;

    private static string Diff(string seed) => Digest.Sha256(System.Text.Encoding.UTF8.GetBytes(seed)).Value;

    private static UpgradeFacts Facts(long persistent = 10L << 30, bool keep = true, params KeptTree[] kept) => new(
        "oci:registry.example/os:v2",
        new ResolvedUpgradeImage(
            "registry.example/os:v2",
            NewDigest,
            null,
            2000,
            [new PlannedLayer("sha256:aa", Base, Present: true), new PlannedLayer("sha256:bb", Marker, Present: false)])
        {
            DiffIds = [BaseDiff, MarkerDiff],
        },
        OldDigest,
        3,
        1L << 30,
        UpgradePlanner.DefaultMinimumMemoryBytes,
        "/usr/local",
        persistent)
    {
        KeptTrees = kept,
        KeepTree = keep,
    };

    private static ResourceCheck PersistentCheck(UpgradePlan plan) => plan.Checks.Single(c => c.Name == UpgradePlanner.PersistentCheck);

    [Fact]
    public void The_kept_tree_holding_the_longest_run_of_leading_layers_is_reused_and_every_other_one_dropped()
    {
        var (reuse, dropped) = UpgradePlanner.ChooseKeptTree([BaseDiff, MarkerDiff], [BaseChain, FullChain, Diff("stranger")]);

        Assert.Equal(new KeptTreeUse(FullChain, 2), reuse);
        Assert.Equal(new[] { BaseChain, Diff("stranger") }.Order(StringComparer.Ordinal), dropped);
    }

    [Fact]
    public void A_tree_whose_chain_is_no_prefix_is_a_miss_even_when_it_holds_one_of_the_layers()
    {
        // The marker layer alone, or above another base, is another tree than base + marker.
        var otherBase = LayerChain.ChainId([Digest.Parse(Diff("other")), Digest.Parse(MarkerDiff)]).Value;

        var (reuse, dropped) = UpgradePlanner.ChooseKeptTree([BaseDiff, MarkerDiff], [MarkerDiff, otherBase]);

        Assert.Null(reuse);
        Assert.Equal(2, dropped.Count);
    }

    [Fact]
    public void An_image_without_diff_ids_reuses_nothing_and_is_kept_under_no_chain()
    {
        var (reuse, _) = UpgradePlanner.ChooseKeptTree([], [BaseChain]);

        Assert.Null(reuse);
        Assert.Null(UpgradePlanner.ChainIdOf([]));
        Assert.Null(UpgradePlanner.ChainIdOf(["not a digest"]));
    }

    [Fact]
    public void A_hit_plans_to_reuse_the_tree_apply_only_the_new_layer_and_keep_the_result_under_the_new_chain()
    {
        var plan = UpgradePlanner.Plan(Facts(kept: new KeptTree(BaseChain, 0)));

        Assert.Equal(new KeptTreeUse(BaseChain, 1), plan.ReusedTree);
        Assert.Empty(plan.DroppedTrees);
        Assert.Equal(FullChain, plan.ChainId);
        Assert.Equal(FullChain, plan.KeepTreeAs);
        Assert.Equal(
            ["reuse-kept-tree-as-staging", "apply-new-layers-to-staging", "keep-staged-tree"],
            plan.Steps.Where(s => s is "reuse-kept-tree-as-staging" or "apply-new-layers-to-staging" or "unpack-to-staging" or "keep-staged-tree"));
    }

    [Fact]
    public void On_a_hit_persistent_must_hold_the_missing_blobs_and_the_growth_of_the_tree_by_the_new_layers_only()
    {
        var plan = UpgradePlanner.Plan(Facts(kept: new KeptTree(BaseChain, 0)));

        Assert.Equal(Marker + Marker + 2000 + UpgradePlanner.PersistentMarginBytes, PersistentCheck(plan).NeededBytes);
    }

    [Fact]
    public void On_a_miss_persistent_must_hold_the_whole_tree_and_the_dropped_trees_count_as_free()
    {
        var stale = new KeptTree(Diff("stranger"), 200L << 20);

        var plan = UpgradePlanner.Plan(Facts(kept: stale));

        Assert.Null(plan.ReusedTree);
        Assert.Equal([stale.ChainId], plan.DroppedTrees);
        Assert.Contains("unpack-to-staging", plan.Steps);
        var check = PersistentCheck(plan);
        Assert.Equal(Marker + Base + Marker + 2000 + UpgradePlanner.PersistentMarginBytes, check.NeededBytes);
        Assert.Equal((10L << 30) + (200L << 20), check.AvailableBytes);
    }

    [Fact]
    public void The_space_a_dropped_tree_frees_can_make_an_upgrade_fit_that_would_not_otherwise()
    {
        var needed = Marker + Base + Marker + 2000 + UpgradePlanner.PersistentMarginBytes;

        Assert.Throws<NotEnoughSpaceException>(() => UpgradePlanner.Plan(Facts(persistent: needed - 1)).EnsureAllowed());
        UpgradePlanner.Plan(Facts(persistent: needed - 1, kept: new KeptTree(Diff("stranger"), 1L << 20))).EnsureAllowed();
    }

    [Fact]
    public void Not_keeping_means_no_chain_to_keep_and_no_keep_step()
    {
        var plan = UpgradePlanner.Plan(Facts(keep: false));

        Assert.Null(plan.KeepTreeAs);
        Assert.DoesNotContain("keep-staged-tree", plan.Steps);
        Assert.Equal(FullChain, plan.ChainId);
    }

    [Fact]
    public void A_no_op_reuses_drops_and_keeps_nothing()
    {
        var facts = Facts(kept: new KeptTree(Diff("stranger"), 1)) with { ActiveDigest = NewDigest };

        var plan = UpgradePlanner.Plan(facts);

        Assert.True(plan.NoOp);
        Assert.Null(plan.ReusedTree);
        Assert.Empty(plan.DroppedTrees);
        Assert.Null(plan.KeepTreeAs);
    }

    [Fact]
    public void A_kept_tree_is_named_by_its_chain_and_only_such_names_count_as_kept_trees()
    {
        var name = KeptTreeStore.NameOf(FullChain);

        Assert.Equal("sha256-" + FullChain["sha256:".Length..], name);
        Assert.Equal(FullChain, KeptTreeStore.ChainIdOf(name));
        Assert.Null(KeptTreeStore.ChainIdOf(".drop-0123456789abcdef"));
        Assert.Null(KeptTreeStore.ChainIdOf("staging"));
        Assert.Null(KeptTreeStore.ChainIdOf("sha256-nothex"));
    }
}
