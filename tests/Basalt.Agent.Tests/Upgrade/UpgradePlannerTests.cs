using Basalt.Agent.Upgrade;
using Basalt.Disk.FileSystems;

namespace Basalt.Agent.Tests.Upgrade;

public sealed class UpgradePlannerTests
{
    private const string NewDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string OldDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    private static UpgradeFacts Facts(string? activeDigest = OldDigest, long memory = 1L << 30, long persistent = 10L << 30) => new(
        "oci:registry.example/os:v2",
        new ResolvedUpgradeImage(
            "registry.example/os:v2",
            NewDigest,
            new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero),
            2000,
            [new PlannedLayer("sha256:aa", 300 << 20, Present: true), new PlannedLayer("sha256:bb", 5 << 20, Present: false)]),
        activeDigest,
        3,
        memory,
        UpgradePlanner.DefaultMinimumMemoryBytes,
        "/usr/local",
        persistent);

    [Fact]
    public void Only_layers_missing_from_the_blob_store_are_counted_as_download()
    {
        var plan = UpgradePlanner.Plan(Facts());

        Assert.False(plan.NoOp);
        Assert.Equal(5 << 20, plan.DownloadBytes);
        Assert.Equal(1, plan.LayersPresent);
        Assert.Contains("exchange-active", plan.Steps);
        plan.EnsureAllowed();
    }

    [Fact]
    public void Same_digest_as_active_is_a_no_op_with_no_steps_and_no_download()
    {
        var plan = UpgradePlanner.Plan(Facts(activeDigest: NewDigest));

        Assert.True(plan.NoOp);
        Assert.Empty(plan.Steps);
        Assert.Equal(0, plan.DownloadBytes);
        Assert.Contains("already active", plan.Summary, StringComparison.Ordinal);
        plan.EnsureAllowed();
    }

    [Fact]
    public void Unknown_active_digest_is_never_a_no_op()
    {
        Assert.False(UpgradePlanner.Plan(Facts(activeDigest: null)).NoOp);
    }

    [Fact]
    public void Too_little_memory_is_refused_with_a_typed_error_and_a_hint()
    {
        var plan = UpgradePlanner.Plan(Facts(memory: 64L << 20));

        var error = Assert.Throws<NotEnoughMemoryException>(plan.EnsureAllowed);
        Assert.Equal(UpgradePlanner.DefaultMinimumMemoryBytes, error.NeededBytes);
        Assert.Equal("not-enough-memory", error.Kind);
        Assert.NotNull(error.Hint);
    }

    [Fact]
    public void Too_little_space_on_persistent_for_blobs_and_tree_is_refused()
    {
        var plan = UpgradePlanner.Plan(Facts(persistent: 100L << 20));

        var error = Assert.Throws<NotEnoughSpaceException>(plan.EnsureAllowed);
        Assert.Equal("COS_PERSISTENT", error.Partition);
        // the missing blob, the unpacked tree (at least the compressed size) and the margin
        Assert.Equal((5L << 20) + (305L << 20) + 2000 + UpgradePlanner.PersistentMarginBytes, error.NeededBytes);
    }

    [Fact]
    public void State_check_sizes_the_transition_image_from_the_measured_tree()
    {
        var tree = new DirectoryTreeSize(ApparentBytes: 700L << 20, BlockBytes: 720L << 20, Files: 20000, Directories: 2000, Symlinks: 500, OtherNodes: 10);
        var expected = Ext4Sizing.ForTree(tree, UpgradePlanner.TransitionHeadroomPercent, 0).ImageBytes;

        var fits = UpgradePlanner.Plan(Facts()).WithStateCheck(tree, "/state", 10L << 30);
        fits.EnsureAllowed();
        Assert.Equal(expected, fits.TransitionBytes);
        Assert.True(expected > 720L << 20);

        var tight = UpgradePlanner.Plan(Facts()).WithStateCheck(tree, "/state", expected);
        var error = Assert.Throws<NotEnoughSpaceException>(tight.EnsureAllowed);
        Assert.Equal("COS_STATE", error.Partition);
        Assert.Equal(expected + UpgradePlanner.StateMarginBytes, error.NeededBytes);
        Assert.Equal(expected, error.AvailableBytes);
    }

    [Fact]
    public void Mem_available_is_read_from_meminfo_in_bytes()
    {
        const string MemInfo = "MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:    2048000 kB\n";
        Assert.Equal(2048000L * 1024, HostNodeProbe.ParseMemAvailable(MemInfo));
        Assert.Equal(0, HostNodeProbe.ParseMemAvailable("MemTotal: 1 kB\n"));
    }

    [Fact]
    public void A_streamed_plan_writes_the_image_from_the_layers_drops_every_kept_tree_and_checks_state_up_front()
    {
        var kept = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
        var facts = Facts() with
        {
            StreamToImage = true,
            KeepTree = true,
            StatePath = "/run/initramfs/cos-state",
            StateAvailableBytes = 10L << 30,
            KeptTrees = [new KeptTree(kept, 700L << 20)],
        };

        var plan = UpgradePlanner.Plan(facts);

        Assert.True(plan.Streamed);
        Assert.Contains(UpgradePlanner.StreamStep, plan.Steps);
        Assert.DoesNotContain("unpack-to-staging", plan.Steps);
        Assert.DoesNotContain("build-transition-image", plan.Steps);
        Assert.DoesNotContain("keep-staged-tree", plan.Steps);
        Assert.Null(plan.ReusedTree);
        Assert.Null(plan.KeepTreeAs);
        Assert.Equal([kept], plan.DroppedTrees);
        // No tree on COS_PERSISTENT: only the missing blob and the margin; the unpacked content goes to COS_STATE.
        var persistent = plan.Checks.Single(c => c.Name == UpgradePlanner.PersistentCheck);
        Assert.Equal((5L << 20) + 2000 + UpgradePlanner.PersistentMarginBytes, persistent.NeededBytes);
        var state = plan.Checks.Single(c => c.Name == UpgradePlanner.StateCheck);
        Assert.Equal((305L << 20) + UpgradePlanner.StateMarginBytes, state.NeededBytes);
        Assert.Equal("/run/initramfs/cos-state", state.Path);
        plan.EnsureAllowed();
    }

    [Fact]
    public void A_streamed_plan_with_less_free_on_state_than_the_layers_is_refused_before_anything_is_fetched()
    {
        var plan = UpgradePlanner.Plan(Facts() with { StreamToImage = true, StatePath = "/state", StateAvailableBytes = 200L << 20 });

        var error = Assert.Throws<NotEnoughSpaceException>(plan.EnsureAllowed);
        Assert.Equal("COS_STATE", error.Partition);
    }

    [Fact]
    public void A_streamed_no_op_has_no_checks_and_is_not_streamed()
    {
        var plan = UpgradePlanner.Plan(Facts(activeDigest: NewDigest) with { StreamToImage = true, StateAvailableBytes = 0 });

        Assert.True(plan.NoOp);
        Assert.False(plan.Streamed);
        Assert.Empty(plan.Checks);
    }
}
