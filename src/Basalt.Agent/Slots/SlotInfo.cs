namespace Basalt.Agent.Slots;

/// <summary>The names of the three system slots as they appear in the slots file, the history and JSON.</summary>
public static class SlotNames
{
    public const string Active = "active";
    public const string Passive = "passive";
    public const string Recovery = "recovery";

    public static IReadOnlyList<string> All { get; } = [Active, Passive, Recovery];

    public static bool IsKnown(string? slot) => slot is Active or Passive or Recovery;
}

/// <summary>
/// What one slot holds. <paramref name="Digest"/> is the image's manifest digest (<c>sha256:…</c>) when the
/// source had one (an OCI image), null for a plain directory or file source; <paramref name="BuildDate"/> is
/// the image config's creation time when known; <paramref name="WrittenAt"/> is when the slot's image was
/// written to the node.
/// </summary>
public sealed record SlotInfo(
    string Slot,
    string ImageReference,
    string? Digest,
    DateTimeOffset? BuildDate,
    DateTimeOffset WrittenAt);
