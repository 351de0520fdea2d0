using System.Globalization;
using System.Text;

namespace Basalt.Agent.State;

/// <summary>The text form of <see cref="NodeState"/> for people; JSON comes from <see cref="AgentJsonContext"/>.</summary>
public static class NodeStateText
{
    public static string Render(NodeState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"boot mode:    {state.BootMode ?? "unknown"}\n");
        text.Append(CultureInfo.InvariantCulture, $"booted slot:  {state.BootedSlot ?? "unknown"}{(state.BootedImageFile is { } file ? $" ({file})" : string.Empty)}\n");

        text.Append("\nslots:\n");
        foreach (var slot in state.Slots)
        {
            var image = slot.ImageReference is null ? "(not recorded)" : slot.ImageReference;
            var presence = slot.ImagePresent switch
            {
                true => string.Empty,
                false => "  [image file missing]",
                null => $"  [{slot.Partition} not mounted: image not checked]",
            };
            text.Append(CultureInfo.InvariantCulture, $"  {slot.Slot,-9} {image}{presence}\n");
            if (slot.Digest is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"            digest {slot.Digest}\n");
            }

            if (slot.BuildDate is { } built)
            {
                text.Append(CultureInfo.InvariantCulture, $"            built  {Time(built)}\n");
            }

            if (slot.WrittenAt is { } written)
            {
                text.Append(CultureInfo.InvariantCulture, $"            written {Time(written)}\n");
            }
        }

        var counting = state.BootCounting;
        text.Append("\nboot counting: ").Append(counting.Armed ? "armed" : "off (the slots are trusted)").Append('\n');
        if (counting.Armed)
        {
            text.Append(CultureInfo.InvariantCulture, $"  tries left: active {Tries(counting.ActiveTriesLeft)}, passive {Tries(counting.PassiveTriesLeft)}\n");
        }

        if (counting.NextEntry is { } next)
        {
            text.Append(CultureInfo.InvariantCulture, $"  next boot (once): {next}\n");
        }

        if (counting.SavedEntry is { } saved)
        {
            text.Append(CultureInfo.InvariantCulture, $"  default entry: {saved}\n");
        }

        text.Append("\nlast fallback: ");
        if (state.LastFallback is { } fallback)
        {
            text.Append(fallback.Reason);
            text.Append(CultureInfo.InvariantCulture, $" ({(fallback.At is { } at ? Time(at) : "this boot, not yet recorded")}");
            if (fallback.Slot is { } slot)
            {
                text.Append(CultureInfo.InvariantCulture, $", now on {slot}");
            }

            if (fallback.FailedImageReference is { } failed)
            {
                text.Append(CultureInfo.InvariantCulture, $", failed image {failed}");
            }

            text.Append(")\n");
        }
        else
        {
            text.Append("none\n");
        }

        text.Append("\npartitions:\n");
        foreach (var partition in state.Partitions)
        {
            var space = partition.TotalBytes is { } total && partition.FreeBytes is { } free
                ? $"{Size(free)} free of {Size(total)}"
                : "not mounted";
            text.Append(CultureInfo.InvariantCulture, $"  {partition.Label,-15} {partition.MountPoint,-28} {space}{(partition.Device is { } device ? $"  ({device})" : string.Empty)}\n");
        }

        text.Append("\nhistory:\n");
        if (state.History.Count == 0)
        {
            text.Append("  (empty)\n");
        }

        foreach (var record in state.History)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {Time(record.At)}  {record.Operation,-16} {record.Outcome,-11}");
            if (record.Operation == History.LifecycleOperations.Fallback)
            {
                // A fallback's image is the one that failed; its slot is where the node landed.
                if (record.ImageReference is not null)
                {
                    text.Append(" from ").Append(record.ImageReference);
                }

                if (record.Slot is not null)
                {
                    text.Append(" to ").Append(record.Slot);
                }
            }
            else
            {
                if (record.Slot is not null)
                {
                    text.Append(' ').Append(record.Slot);
                }

                if (record.ImageReference is not null)
                {
                    text.Append(' ').Append(record.ImageReference);
                }
            }

            if (record.Detail is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $" — {record.Detail}");
            }

            text.Append('\n');
        }

        foreach (var warning in state.Warnings)
        {
            text.Append(CultureInfo.InvariantCulture, $"warning: {warning}\n");
        }

        return text.ToString();
    }

    private static string Tries(int? tries) => tries?.ToString(CultureInfo.InvariantCulture) ?? "not counted";

    private static string Time(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }
}
