namespace Basalt.Agent.Slots;

/// <summary>
/// What every slot holds, as a value: the lifecycle computes the table after an action (upgrade, rollback)
/// and writes it with <see cref="SlotStore"/> once the images are in place.
/// </summary>
public sealed class SlotTable
{
    private readonly Dictionary<string, SlotInfo> _slots;

    private SlotTable(Dictionary<string, SlotInfo> slots) => _slots = slots;

    public static SlotTable Empty { get; } = new(new Dictionary<string, SlotInfo>(StringComparer.Ordinal));

    public static SlotTable From(IEnumerable<SlotInfo> slots)
    {
        ArgumentNullException.ThrowIfNull(slots);
        var table = Empty;
        foreach (var slot in slots)
        {
            table = table.With(slot);
        }

        return table;
    }

    /// <summary>The slots in the order active, passive, recovery; a slot nothing is known about is left out.</summary>
    public IReadOnlyList<SlotInfo> Slots =>
        SlotNames.All.Where(_slots.ContainsKey).Select(name => _slots[name]).ToList();

    public SlotInfo? Active => Get(SlotNames.Active);

    public SlotInfo? Passive => Get(SlotNames.Passive);

    public SlotInfo? Recovery => Get(SlotNames.Recovery);

    public SlotInfo? Get(string slot) => _slots.GetValueOrDefault(slot);

    /// <summary>A table where <paramref name="info"/>'s slot holds <paramref name="info"/>.</summary>
    public SlotTable With(SlotInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        RequireKnown(info.Slot);
        return new SlotTable(new Dictionary<string, SlotInfo>(_slots, StringComparer.Ordinal) { [info.Slot] = info });
    }

    public SlotTable Without(string slot)
    {
        RequireKnown(slot);
        var slots = new Dictionary<string, SlotInfo>(_slots, StringComparer.Ordinal);
        slots.Remove(slot);
        return new SlotTable(slots);
    }

    /// <summary>After an upgrade: the old active becomes passive, <paramref name="newActive"/> becomes active.</summary>
    public SlotTable AfterUpgrade(SlotInfo newActive)
    {
        ArgumentNullException.ThrowIfNull(newActive);
        var table = Active is { } previous ? With(previous with { Slot = SlotNames.Passive }) : Without(SlotNames.Passive);
        return table.With(newActive with { Slot = SlotNames.Active });
    }

    /// <summary>After a rollback: active and passive trade places (a slot nothing is known about stays unknown).</summary>
    public SlotTable AfterRollback()
    {
        var table = Without(SlotNames.Active).Without(SlotNames.Passive);
        if (Passive is { } passive)
        {
            table = table.With(passive with { Slot = SlotNames.Active });
        }

        if (Active is { } active)
        {
            table = table.With(active with { Slot = SlotNames.Passive });
        }

        return table;
    }

    private static void RequireKnown(string slot)
    {
        if (!SlotNames.IsKnown(slot))
        {
            throw new ArgumentException($"'{slot}' is not a slot; slots are {string.Join(", ", SlotNames.All)}", nameof(slot));
        }
    }
}
