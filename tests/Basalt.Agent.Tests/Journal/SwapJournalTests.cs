using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Tests.Upgrade;
using Basalt.Agent.Upgrade;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Journal;

public sealed class SwapJournalTests
{
    internal static SwapJournal Journal(SwapStep step, ulong? inode = null) => new()
    {
        Operation = LifecycleOperations.Upgrade,
        Step = step,
        StartedAt = new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero),
        TransitionInode = inode,
        NewActive = new JournalSlot("registry.example/os:v2", "sha256:22", null, new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero)),
        NewPassive = new JournalSlot("registry.example/os:v1", "sha256:11", null, new DateTimeOffset(2026, 11, 1, 3, 0, 0, TimeSpan.Zero)),
        FromDigest = "sha256:11",
        BootTries = 3,
    };

    [Fact]
    public void Journal_round_trips_through_its_file()
    {
        using var node = new FakeNode();
        var store = new SwapJournalStore(node.Paths.Journal);
        var journal = Journal(SwapStep.Relabeling, 42);

        store.Write(journal);

        Assert.Equal(journal, store.Read());
        Assert.Contains("\"step\": \"Relabeling\"", File.ReadAllText(node.Paths.Journal), StringComparison.Ordinal);
        store.Delete();
        Assert.Null(store.Read());
    }

    [Fact]
    public void Unreadable_or_newer_journal_is_a_typed_error()
    {
        using var node = new FakeNode();
        var store = new SwapJournalStore(node.Paths.Journal);
        File.WriteAllText(node.Paths.Journal, "{ torn");
        Assert.Equal("journal-unreadable", Assert.Throws<JournalUnreadableException>(() => store.Read()).Kind);

        store.Write(Journal(SwapStep.Staging) with { Version = 99 });
        Assert.Throws<JournalUnreadableException>(() => store.Read());
    }

    [Fact]
    public async Task Journal_past_preparation_whose_transition_is_gone_is_rolled_back_and_the_arming_undone()
    {
        using var node = new FakeNode();
        var executor = new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History);
        new SwapJournalStore(node.Paths.Journal).Write(Journal(SwapStep.Exchanging, inode: 999_999_999));
        var environment = Boot.Grub.GrubEnvironment.Load(node.Paths.GrubEnvironment);
        Boot.Grub.BootAssessment.Arm(environment);
        environment.Save(node.Paths.GrubEnvironment);

        var result = await executor.RecoverAsync();

        Assert.Equal(RecoveryOutcome.RolledBack, result.Outcome);
        node.AssertBootable(["A"], ["P"]);
        Assert.False(node.GrubVariables().ContainsKey(Boot.Grub.GrubEnvironmentKeys.ActiveTriesLeft));
        Assert.Equal(LifecycleOperations.RolledBack, Assert.Single(await node.History.ReadAsync()).Outcome);
    }

    [Fact]
    public async Task Interrupted_build_leftovers_are_removed_by_recovery()
    {
        using var node = new FakeNode();
        var executor = new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History);
        new SwapJournalStore(node.Paths.Journal).Write(Journal(SwapStep.Preparing));
        var half = AtomicFile.TemporarySibling(node.Paths.TransitionImage);
        await File.WriteAllTextAsync(half, "half an image");

        var result = await executor.RecoverAsync();

        Assert.Equal(RecoveryOutcome.RolledBack, result.Outcome);
        Assert.Equal(SwapStep.Preparing, result.InterruptedAt);
        Assert.False(File.Exists(half));
        Assert.False(File.Exists(node.Paths.Journal));
    }

    [Fact]
    public async Task Nothing_to_recover_without_a_journal()
    {
        using var node = new FakeNode();
        var executor = new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History);

        Assert.Equal(RecoveryOutcome.Nothing, (await executor.RecoverAsync()).Outcome);
        Assert.Empty(await node.History.ReadAsync());
    }
}

/// <summary>
/// GRUB reads COS_STATE and COS_OEM without replaying their journals: every step of a swap must reach the disk itself
/// before the next step can free blocks that the names GRUB follows still point at.
/// </summary>
public sealed class SwapCheckpointTests
{
    [Fact]
    public async Task Each_step_is_checkpointed_before_the_next_runs_and_the_exchange_is_on_disk_before_the_retired_image_is_freed()
    {
        using var node = new FakeNode();
        var events = new List<string>();
        var views = new List<(string Path, ulong Active, ulong Passive)>();
        var checkpoint = new RecordingJournalCheckpoint(path =>
        {
            events.Add($"checkpoint {path}");
            views.Add((path, Posix.GetStatus(node.Paths.ActiveImage).Inode, Posix.GetStatus(node.Paths.PassiveImage).Inode));
        });
        var hooks = new SwapHooks
        {
            BeforeStep = step => events.Add($"run {step}"),
            AfterStep = step => events.Add($"done {step}"),
        };
        var executor = new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History, hooks, checkpoint: checkpoint);
        var oldActive = Posix.GetStatus(node.Paths.ActiveImage).Inode;
        FakeNode.WriteImage(node.Paths.TransitionImage, SlotLabels.Active, "N");
        var transition = Posix.GetStatus(node.Paths.TransitionImage).Inode;
        await executor.CompleteAsync(SwapJournalTests.Journal(SwapStep.Arming, transition));

        var oem = Path.GetDirectoryName(Path.GetFullPath(node.Paths.GrubEnvironment))!;
        var state = node.Paths.StateMount;
        Assert.Equal(
            [
                "run Arming", $"checkpoint {oem}", $"checkpoint {state}", "done Arming",
                "run Exchanging", $"checkpoint {state}", "done Exchanging",
                "run Relabeling", $"checkpoint {state}", "done Relabeling",
                "run Retiring", $"checkpoint {state}", "done Retiring",
                "run Finishing", $"checkpoint {state}", "done Finishing",
                "run RecordingSlots", $"checkpoint {state}", "done RecordingSlots",
                "run RecordingHistory", $"checkpoint {state}", "done RecordingHistory",
            ],
            events);

        // What a journal-blind reader sees once the exchange is checkpointed: the new image as active, the old one at
        // transition.img until the retire step renames it over passive.img and frees the old passive.
        var afterExchange = views[2];
        Assert.Equal(transition, afterExchange.Active);
        var afterRetire = views[4];
        Assert.Equal((transition, oldActive), (afterRetire.Active, afterRetire.Passive));
    }

    [Fact]
    public async Task Undoing_a_prepared_upgrade_checkpoints_the_disarmed_grubenv_and_the_state_partition()
    {
        using var node = new FakeNode();
        var checkpoints = new RecordingJournalCheckpoint();
        var executor = new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History, checkpoint: checkpoints);
        await executor.UndoPreparationAsync(SwapJournalTests.Journal(SwapStep.Arming), LifecycleOperations.RolledBack, "test");

        Assert.Equal([Path.GetDirectoryName(Path.GetFullPath(node.Paths.GrubEnvironment))!, node.Paths.StateMount], checkpoints.Paths);
    }
}
