using Basalt.Agent.History;

namespace Basalt.Agent.State;

/// <summary>
/// <c>basalt state</c>: what runs, what each slot holds, where boot counting stands, the last fallback and
/// why, the partitions and their space, and the lifecycle history. Rendered as text or JSON.
/// </summary>
public sealed record NodeState(
    string? BootMode,
    string? BootedSlot,
    string? BootedImageFile,
    IReadOnlyList<SlotState> Slots,
    BootCountingState BootCounting,
    FallbackState? LastFallback,
    IReadOnlyList<PartitionState> Partitions,
    IReadOnlyList<LifecycleRecord> History,
    IReadOnlyList<string> Warnings);

/// <summary>
/// One slot: its image file on disk and what the slots file says it holds (null when unknown).
/// <paramref name="ImagePresent"/> is null when the partition holding the image (<paramref name="Partition"/>) is not
/// mounted here, so the file could not be looked at.
/// </summary>
public sealed record SlotState(
    string Slot,
    string ImageFile,
    bool? ImagePresent,
    string Partition,
    string? ImageReference,
    string? Digest,
    DateTimeOffset? BuildDate,
    DateTimeOffset? WrittenAt);

/// <summary>
/// The boot counting variables of grubenv. A null try count means the slot is trusted (not counted); zero
/// means the menu skips it. <paramref name="PendingFallbackReason"/> is a fallback the menu or the mounter
/// decided that no good boot has recorded yet.
/// </summary>
public sealed record BootCountingState(
    bool Armed,
    int? ActiveTriesLeft,
    int? PassiveTriesLeft,
    string? LastBootEntry,
    string? NextEntry,
    string? SavedEntry,
    string? PendingFallbackReason);

/// <summary>The last fallback: from grubenv when not yet recorded (<c>source: grubenv</c>), else from the history.</summary>
public sealed record FallbackState(
    string Source,
    string Reason,
    DateTimeOffset? At,
    string? Slot,
    string? FailedImageReference,
    string? FailedDigest);

/// <summary>A Basalt partition as mounted on this node; sizes are null when its mount point is absent.</summary>
public sealed record PartitionState(
    string Label,
    string MountPoint,
    bool Mounted,
    string? Device,
    string? FileSystem,
    long? TotalBytes,
    long? FreeBytes);
