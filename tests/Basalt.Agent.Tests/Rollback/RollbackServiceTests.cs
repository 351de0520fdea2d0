using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Rollback;
using Basalt.Agent.Tests.Upgrade;
using Basalt.Agent.Upgrade;
using Basalt.Boot.Grub;

namespace Basalt.Agent.Tests.Rollback;

public sealed class RollbackServiceTests
{
    private static readonly JournalSlot V1 = new("registry.example/os:v1", "sha256:11", null, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
    private static readonly JournalSlot V2 = new("registry.example/os:v2", "sha256:22", null, new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero));

    private static RollbackService Service(FakeNode node, SwapHooks? hooks = null) =>
        new(node.Paths, node.Tools, node.Slots, node.History, node.Probe, hooks: hooks);

    private static async Task<FakeNode> UpgradedNodeAsync()
    {
        var node = new FakeNode();
        await node.Slots.WriteAsync(V2, V1);
        var environment = GrubEnvironment.Load(node.Paths.GrubEnvironment);
        BootAssessment.Arm(environment);
        environment.Save(node.Paths.GrubEnvironment);
        return node;
    }

    [Fact]
    public async Task Rollback_makes_passive_active_for_good_with_labels_swapped_counters_cleared_and_history()
    {
        using var node = await UpgradedNodeAsync();

        var result = await Service(node).RollbackAsync();

        node.AssertBootable(["P"], ["A"]);
        Assert.Equal(V1, result.Active);
        Assert.Equal(V1, node.Slots.ReadActive());
        Assert.Equal(V2, node.Slots.ReadPassive());
        Assert.False(node.GrubVariables().ContainsKey(GrubEnvironmentKeys.ActiveTriesLeft));
        Assert.False(node.GrubVariables().ContainsKey(GrubEnvironmentKeys.PassiveTriesLeft));
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.False(File.Exists(node.Paths.Journal));
        var record = Assert.Single(await node.History.ReadAsync());
        Assert.Equal((LifecycleOperations.Rollback, LifecycleOperations.Succeeded, "sha256:22", "sha256:11"), (record.Operation, record.Outcome, record.FromDigest, record.ToDigest));
    }

    [Fact]
    public async Task Two_rollbacks_return_to_the_start()
    {
        using var node = await UpgradedNodeAsync();
        await Service(node).RollbackAsync();
        await Service(node).RollbackAsync();

        node.AssertBootable(["A"], ["P"]);
        Assert.Equal(V2, node.Slots.ReadActive());
    }

    [Fact]
    public async Task No_passive_image_is_refused()
    {
        using var node = await UpgradedNodeAsync();
        File.Delete(node.Paths.PassiveImage);

        var error = await Assert.ThrowsAsync<NothingToRollBackException>(() => Service(node).RollbackAsync());
        Assert.Equal("nothing-to-roll-back", error.Kind);
    }

    [Fact]
    public async Task Too_little_space_for_the_copy_is_refused_and_nothing_changes()
    {
        using var node = await UpgradedNodeAsync();
        node.Probe.Available[node.Paths.StateMount] = 1024;

        var error = await Assert.ThrowsAsync<NotEnoughSpaceException>(() => Service(node).RollbackAsync());

        Assert.Equal("COS_STATE", error.Partition);
        node.AssertBootable(["A"], ["P"]);
        Assert.False(File.Exists(node.Paths.Journal));
    }

    public static TheoryData<SwapStep, bool> Cuts()
    {
        var data = new TheoryData<SwapStep, bool>();
        foreach (var step in Enum.GetValues<SwapStep>().Where(s => s >= SwapStep.Preparing && s != SwapStep.Arming))
        {
            data.Add(step, false);
            data.Add(step, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cuts))]
    public async Task Power_cut_at_any_step_of_a_rollback_leaves_a_bootable_node_and_recovery_finishes_or_undoes_it(SwapStep step, bool afterStep)
    {
        using var node = await UpgradedNodeAsync();

        await Assert.ThrowsAsync<PowerCutException>(() => Service(node, afterStep ? PowerCuts.After(step) : PowerCuts.Before(step)).RollbackAsync());
        node.AssertBootable(["A", "P"], ["P", "A"]);

        var recovery = await Service(node).RecoverAsync();

        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(File.Exists(node.Paths.TransitionImage));
        if (step > SwapStep.Preparing)
        {
            Assert.Equal(RecoveryOutcome.Completed, recovery.Outcome);
            node.AssertBootable(["P"], ["A"]);
            Assert.Equal(V1, node.Slots.ReadActive());
        }
        else
        {
            Assert.Equal(RecoveryOutcome.RolledBack, recovery.Outcome);
            node.AssertBootable(["A"], ["P"]);
            Assert.Equal(V2, node.Slots.ReadActive());
        }
    }
}
