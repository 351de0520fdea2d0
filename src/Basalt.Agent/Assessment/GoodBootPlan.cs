using Basalt.Agent.History;
using Basalt.Agent.Slots;
using Basalt.Boot.Grub;

namespace Basalt.Agent.Assessment;

/// <summary>
/// What <c>basalt boot mark-good</c> does once a boot has passed its health gate, as data: the history
/// records to append, whether hooks get the <c>upgrade_failure</c> sentinel, and the grubenv variables to
/// clear. Computed by <see cref="GoodBootPlanner"/>, carried out by <see cref="GoodBootMarker"/>.
/// </summary>
public sealed record GoodBootPlan(
    string? RunningSlot,
    bool WasArmed,
    string? FallbackReason,
    IReadOnlyList<LifecycleRecord> Records,
    string? UpgradeFailure,
    IReadOnlyList<string> ClearVariables,
    IReadOnlyList<string> KeptCounters,
    IReadOnlyDictionary<string, string> RearmedCounters);

/// <summary>
/// The bookkeeping rules of a good boot. The menu (<see cref="BootAssessment.Select"/>) counts tries down
/// and steps active → passive → recovery, leaving <c>basalt_fallback_reason</c> and <c>basalt_last_entry</c>;
/// the mounter leaves <c>basalt_last_failure</c> when it sent the next boot elsewhere. Here:
/// <list type="bullet">
/// <item>a fallback (either reason) is recorded in the history with the image that failed and why, once:
/// when the history already ends with the same fallback (the node keeps landing on the same slot), nothing
/// is added;</item>
/// <item>a boot of passive or recovery while counting was armed writes the <c>upgrade_failure</c> sentinel;</item>
/// <item>a good boot of active clears everything (<see cref="BootAssessment.MarkGood"/>), so no flag an
/// earlier upgrade left can cause a fallback later; an armed active boot is recorded as confirmed;</item>
/// <item>a good boot of passive or recovery clears the decision variables but keeps the counters of the slots
/// before it: a slot that used up its tries stays skipped (the menu goes on booting the good slot instead of
/// looping on the broken one) until an upgrade re-arms counting or a rollback or reset clears it;</item>
/// <item>while active is skipped, a good boot of passive gives passive its full tries again (the count the
/// upgrade armed, <c>basalt_boot_tries</c>) instead of clearing its counter: the node now lives on passive, and
/// if passive stops booting too, the menu must still step on to recovery rather than boot it uncounted for
/// ever.</item>
/// </list>
/// </summary>
public static class GoodBootPlanner
{
    public static GoodBootPlan Plan(
        IReadOnlyDictionary<string, string> environment,
        string? runningSlot,
        SlotTable slots,
        LifecycleRecord? lastHistoryRecord,
        DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(slots);
        var activeTries = Value(environment, GrubEnvironmentKeys.ActiveTriesLeft);
        var passiveTries = Value(environment, GrubEnvironmentKeys.PassiveTriesLeft);
        var armed = activeTries is not null || passiveTries is not null;
        var reasons = new[] { Value(environment, GrubEnvironmentKeys.FallbackReason), Value(environment, GrubEnvironmentKeys.LastFailure) }
            .OfType<string>()
            .ToList();
        var reason = reasons.Count == 0 ? null : string.Join("; ", reasons);

        var records = new List<LifecycleRecord>();
        if (reason is not null)
        {
            var failed = runningSlot is SlotNames.Passive or SlotNames.Recovery ? slots.Active : null;
            var running = runningSlot is null ? null : slots.Get(runningSlot);
            var fallback = new LifecycleRecord(
                LifecycleOperations.Fallback,
                now,
                LifecycleOperations.Failed,
                Slot: runningSlot,
                ImageReference: failed?.ImageReference,
                FromDigest: failed?.Digest,
                ToDigest: running?.Digest,
                Detail: reason);
            if (!SameFallback(lastHistoryRecord, fallback))
            {
                records.Add(fallback);
            }
        }
        else if (armed && runningSlot == SlotNames.Active)
        {
            var active = slots.Active;
            records.Add(new LifecycleRecord(
                LifecycleOperations.BootGood,
                now,
                LifecycleOperations.Succeeded,
                Slot: SlotNames.Active,
                ImageReference: active?.ImageReference,
                ToDigest: active?.Digest,
                Detail: "the new image passed its health gate"));
        }

        string? upgradeFailure = null;
        if (armed && runningSlot is SlotNames.Passive or SlotNames.Recovery)
        {
            upgradeFailure = $"the node runs {runningSlot} after an upgrade: {reason ?? "the new image was not booted"}";
        }

        var clear = new List<string> { GrubEnvironmentKeys.LastBootEntry, GrubEnvironmentKeys.FallbackReason, GrubEnvironmentKeys.LastFailure };
        var kept = new List<string>();
        var rearmed = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (runningSlot)
        {
            case SlotNames.Passive:
                if (activeTries is not null && BootAssessment.ValidTries(Value(environment, GrubEnvironmentKeys.BootTries)) is { } tries)
                {
                    rearmed[GrubEnvironmentKeys.PassiveTriesLeft] = tries;
                }
                else
                {
                    clear.Add(GrubEnvironmentKeys.PassiveTriesLeft);
                }

                kept.Add(GrubEnvironmentKeys.ActiveTriesLeft);
                break;
            case SlotNames.Recovery:
                kept.Add(GrubEnvironmentKeys.ActiveTriesLeft);
                kept.Add(GrubEnvironmentKeys.PassiveTriesLeft);
                break;
            default:
                // Active, or a boot whose slot cannot be told: the boot is good, nothing is counted any more.
                clear.Add(GrubEnvironmentKeys.ActiveTriesLeft);
                clear.Add(GrubEnvironmentKeys.PassiveTriesLeft);
                break;
        }

        kept.RemoveAll(key => Value(environment, key) is null);
        return new GoodBootPlan(runningSlot, armed, reason, records, upgradeFailure, clear, kept, rearmed);
    }

    /// <summary>Applies the plan's grubenv part: exactly what the plan says is cleared, nothing else changes.</summary>
    public static void Apply(GoodBootPlan plan, GrubEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(environment);
        if (plan.ClearVariables.Contains(GrubEnvironmentKeys.ActiveTriesLeft) && plan.ClearVariables.Contains(GrubEnvironmentKeys.PassiveTriesLeft))
        {
            BootAssessment.MarkGood(environment);
        }

        foreach (var key in plan.ClearVariables)
        {
            environment.Unset(key);
        }

        foreach (var (key, value) in plan.RearmedCounters)
        {
            environment.Set(key, value);
        }
    }

    private static bool SameFallback(LifecycleRecord? last, LifecycleRecord fallback) =>
        last is not null &&
        last.Operation == LifecycleOperations.Fallback &&
        last.Slot == fallback.Slot &&
        last.Detail == fallback.Detail &&
        last.FromDigest == fallback.FromDigest;

    private static string? Value(IReadOnlyDictionary<string, string> environment, string key) =>
        environment.TryGetValue(key, out var value) && value.Length > 0 ? value : null;
}
