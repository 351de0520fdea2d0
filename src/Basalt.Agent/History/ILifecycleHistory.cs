namespace Basalt.Agent.History;

/// <summary>
/// The node's record of what was done to it (install, upgrade, rollback, reset, fallbacks), kept across
/// reboots and shown by <c>basalt state</c>. Appends are durable when the call returns.
/// </summary>
public interface ILifecycleHistory
{
    Task AppendAsync(LifecycleRecord record, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<LifecycleRecord>> ReadAsync(CancellationToken cancellationToken = default);
}

/// <summary>One lifecycle event. <paramref name="Operation"/> is one of <see cref="LifecycleOperations"/>.</summary>
public sealed record LifecycleRecord(
    string Operation,
    DateTimeOffset At,
    string Outcome,
    string? Slot = null,
    string? ImageReference = null,
    string? FromDigest = null,
    string? ToDigest = null,
    string? Detail = null);

/// <summary>The stable names of lifecycle operations and outcomes as they appear in the history and in JSON.</summary>
public static class LifecycleOperations
{
    public const string Install = "install";
    public const string Upgrade = "upgrade";
    public const string RecoveryUpgrade = "upgrade-recovery";
    public const string Rollback = "rollback";
    public const string Reset = "reset";
    public const string Fallback = "fallback";
    public const string BootGood = "boot-good";

    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string NoOp = "no-op";
    public const string RolledBack = "rolled-back";
}
