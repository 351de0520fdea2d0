using Basalt.Agent.Assessment;
using Basalt.Agent.History;
using Basalt.Agent.Slots;
using Basalt.Boot;
using Basalt.Boot.Grub;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Assessment;

public sealed class GoodBootMarkerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private static readonly SlotInfo V3 = new(SlotNames.Active, "registry.local/os:v3", "sha256:33", Now.AddDays(-1), Now.AddHours(-1));
    private static readonly SlotInfo V2 = new(SlotNames.Passive, "registry.local/os:v2", "sha256:22", Now.AddDays(-9), Now.AddDays(-8));

    private const string Active = GrubEnvironmentKeys.ActiveTriesLeft;
    private const string Passive = GrubEnvironmentKeys.PassiveTriesLeft;
    private const string Reason = GrubEnvironmentKeys.FallbackReason;
    private const string LastEntry = GrubEnvironmentKeys.LastBootEntry;

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static GoodBootMarker Marker(TestNode node) => new(node.Paths, clock: new FixedClock(Now));

    /// <summary>
    /// A table of grubenv states as the menu leaves them (slot booted, variables) and what a good boot must
    /// leave behind: the history operation recorded (or none), whether hooks see upgrade_failure, and the
    /// counters that remain.
    /// </summary>
    public static TheoryData<string, string[], string?, bool, string[]> Cases => new()
    {
        // Good first boot of a new active after an upgrade: confirmed, counting off.
        { SlotNames.Active, [Active, "2", Passive, "3", LastEntry, "cos"], LifecycleOperations.BootGood, false, [] },
        // An ordinary boot with nothing armed: nothing recorded, nothing left.
        { SlotNames.Active, [], null, false, [] },
        // Stale flags an earlier upgrade left behind, on a good active boot: all cleared, nothing recorded as a fallback.
        { SlotNames.Active, [Passive, "0", LastEntry, "cos"], LifecycleOperations.BootGood, false, [] },
        // The new active used its tries; the menu fell back to passive.
        { SlotNames.Passive, [Active, "0", Passive, "2", LastEntry, "fallback", Reason, "active: no tries left"], LifecycleOperations.Fallback, true, [Active] },
        // Active and passive both failed; the node reached recovery.
        { SlotNames.Recovery, [Active, "0", Passive, "0", LastEntry, "recovery", Reason, "passive: no tries left"], LifecycleOperations.Fallback, true, [Active, Passive] },
        // The mounter failed on active and sent the next boot to passive, nothing armed.
        { SlotNames.Passive, [GrubEnvironmentKeys.LastFailure, "require-image: /cOS/active.img is missing"], LifecycleOperations.Fallback, false, [] },
    };

    [Fact]
    public async Task The_reset_counters_are_checkpointed_on_their_partition_so_GRUB_never_counts_a_good_boot_again()
    {
        using var node = new TestNode().Booted(SlotNames.Active).WithSlots(V3, V2);
        node.WithGrubenv((Active, "2"), (Passive, "3"), (LastEntry, "cos"));
        var checkpoint = new RecordingJournalCheckpoint(_ => Assert.Null(GrubEnvironment.Load(node.Paths.GrubEnvironment).Get(Active)));

        await new GoodBootMarker(node.Paths, clock: new FixedClock(Now), checkpoint: checkpoint).MarkGoodAsync();

        Assert.Equal([Path.GetDirectoryName(Path.GetFullPath(node.Paths.GrubEnvironment))!], checkpoint.Paths);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_good_boot_records_what_happened_and_leaves_the_right_counters(string slot, string[] variables, string? recorded, bool upgradeFailure, string[] kept)
    {
        using var node = new TestNode().Booted(slot).WithSlots(V3, V2);
        node.WithGrubenv([.. variables.Chunk(2).Select(pair => (pair[0], pair[1]))]);

        var result = await Marker(node).MarkGoodAsync();

        var history = await node.History.ReadAsync();
        Assert.Equal(recorded is null ? [] : [recorded], history.Select(r => r.Operation));
        Assert.Equal(upgradeFailure, File.Exists(node.Paths.UpgradeFailureSentinel));
        var after = node.Grubenv;
        foreach (var key in new[] { Active, Passive })
        {
            Assert.Equal(kept.Contains(key), after.Get(key) is not null);
        }

        foreach (var key in new[] { Reason, LastEntry, GrubEnvironmentKeys.LastFailure })
        {
            Assert.Null(after.Get(key));
        }

        Assert.Equal(slot, result.Plan.RunningSlot);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public async Task A_fallback_to_passive_is_recorded_with_the_failed_image_its_reason_and_time()
    {
        using var node = new TestNode().Booted(SlotNames.Passive).WithSlots(V3, V2)
            .WithGrubenv((Active, "0"), (Passive, "2"), (LastEntry, "fallback"), (Reason, "active: no tries left"));

        await Marker(node).MarkGoodAsync();

        var fallback = Assert.Single(await node.History.ReadAsync());
        Assert.Equal(LifecycleOperations.Fallback, fallback.Operation);
        Assert.Equal(Now, fallback.At);
        Assert.Equal(SlotNames.Passive, fallback.Slot);
        Assert.Equal("registry.local/os:v3", fallback.ImageReference);
        Assert.Equal("sha256:33", fallback.FromDigest);
        Assert.Equal("sha256:22", fallback.ToDigest);
        Assert.Equal("active: no tries left", fallback.Detail);
        Assert.Contains("active: no tries left", File.ReadAllText(node.Paths.UpgradeFailureSentinel), StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_fallback_the_menu_keeps_booting_passive_and_the_fallback_is_recorded_once()
    {
        using var node = new TestNode().Booted(SlotNames.Passive).WithSlots(V3, V2)
            .WithGrubenv((Active, "0"), (Passive, "2"), (LastEntry, "fallback"), (Reason, "active: no tries left"));
        await Marker(node).MarkGoodAsync();

        // Three more boots: each time the menu decides, the node runs passive, the boot is good.
        for (var boot = 0; boot < 3; boot++)
        {
            var selection = BootAssessment.Select(node.Grubenv.Variables.ToDictionary(p => p.Key, p => p.Value));
            Assert.Equal(GrubMenu.PassiveEntry, selection.Entry);
            var environment = GrubEnvironment.Create();
            foreach (var (key, value) in selection.Environment)
            {
                environment.Set(key, value);
            }

            environment.Save(node.Paths.GrubEnvironment);
            await Marker(node).MarkGoodAsync();
        }

        Assert.Single(await node.History.ReadAsync());
    }

    [Fact]
    public async Task While_the_node_lives_on_passive_a_passive_that_stops_booting_leads_to_recovery_after_its_tries()
    {
        // The upgrade armed 2 tries; the new active used them and the menu fell back to passive, which booted well.
        using var node = new TestNode().Booted(SlotNames.Passive).WithSlots(V3, V2)
            .WithGrubenv((Active, "0"), (Passive, "1"), (GrubEnvironmentKeys.BootTries, "2"), (LastEntry, "fallback"), (Reason, "active: no tries left"));

        var result = await Marker(node).MarkGoodAsync();

        Assert.Equal("2", node.Grubenv.Get(Passive));
        Assert.Equal("0", node.Grubenv.Get(Active));
        Assert.Equal(new Dictionary<string, string> { [Passive] = "2" }, result.Plan.RearmedCounters);

        // Passive now fails (no mark-good): two boots of it, then the menu goes to recovery and says why.
        var environment = node.Grubenv.Variables.ToDictionary(p => p.Key, p => p.Value);
        var entries = new List<string>();
        for (var boot = 0; boot < 3; boot++)
        {
            var selection = BootAssessment.Select(environment);
            entries.Add(selection.Entry);
            environment = selection.Environment.ToDictionary(p => p.Key, p => p.Value);
        }

        Assert.Equal([GrubMenu.PassiveEntry, GrubMenu.PassiveEntry, GrubMenu.RecoveryEntry], entries);
        Assert.Equal("passive: no tries left", environment[Reason]);
    }

    [Fact]
    public async Task A_good_passive_boot_without_a_recorded_try_count_clears_the_passive_counter_as_before()
    {
        using var node = new TestNode().Booted(SlotNames.Passive).WithSlots(V3, V2)
            .WithGrubenv((Active, "0"), (Passive, "1"), (LastEntry, "fallback"), (Reason, "active: no tries left"));

        var result = await Marker(node).MarkGoodAsync();

        Assert.Null(node.Grubenv.Get(Passive));
        Assert.Empty(result.Plan.RearmedCounters);
    }

    [Fact]
    public async Task Flags_left_by_an_earlier_upgrade_never_cause_a_fallback_after_a_good_boot()
    {
        using var node = new TestNode().Booted(SlotNames.Active).WithSlots(V3, V2)
            .WithGrubenv((Active, "1"), (Passive, "0"), (LastEntry, "fallback"), (Reason, "passive: no tries left"));

        await Marker(node).MarkGoodAsync();

        var environment = node.Grubenv.Variables.ToDictionary(p => p.Key, p => p.Value);
        for (var boot = 0; boot < BootAssessment.MaxTries + 2; boot++)
        {
            var selection = BootAssessment.Select(environment);
            Assert.Equal(GrubMenu.ActiveEntry, selection.Entry);
            Assert.False(selection.Environment.ContainsKey(Reason));
            environment = selection.Environment.ToDictionary(p => p.Key, p => p.Value);
        }
    }

    [Fact]
    public async Task Without_a_grubenv_nothing_is_written_and_the_error_names_the_path()
    {
        using var node = new TestNode().Booted(SlotNames.Active);

        var error = await Assert.ThrowsAsync<GrubEnvironmentMissingException>(() => Marker(node).MarkGoodAsync());

        Assert.Contains(node.Paths.GrubEnvironment, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(node.Paths.History));
    }

    [Fact]
    public async Task A_history_that_cannot_be_written_does_not_stop_the_boot_being_marked_good()
    {
        using var node = new TestNode().Booted(SlotNames.Active).WithGrubenv((Active, "2"), (Passive, "3"));
        // A file where the agent directory should be: appends fail.
        File.WriteAllText(node.Paths.AgentDirectory, "not a directory");

        var result = await Marker(node).MarkGoodAsync();

        Assert.Null(node.Grubenv.Get(Active));
        Assert.Contains(result.Warnings, w => w.Contains("history", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_slot_is_treated_as_a_good_active_boot_and_says_so()
    {
        using var node = new TestNode().WithGrubenv((Active, "2"), (Passive, "3"));

        var result = await Marker(node).MarkGoodAsync();

        Assert.Null(result.Plan.RunningSlot);
        Assert.Null(node.Grubenv.Get(Active));
        Assert.Contains(result.Warnings, w => w.Contains("which slot", StringComparison.Ordinal));
    }
}
