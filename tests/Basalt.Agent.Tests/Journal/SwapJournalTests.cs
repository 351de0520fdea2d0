using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Tests.Upgrade;
using Basalt.Agent.Upgrade;
using Basalt.Platform;

namespace Basalt.Agent.Tests.Journal;

public sealed class SwapJournalTests
{
    private static SwapJournal Journal(SwapStep step, ulong? inode = null) => new()
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
