using System.Globalization;
using Basalt.Disk;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// Prepares COS_PERSISTENT on a scenario's copy of the fixture disk: the fixture keeps its disk small, and scenarios
/// that upgrade in the guest need room there (the node's blob store and the staged tree) and sometimes content that
/// the node must find at first boot (an upgrade source, blobs already on the node).
/// </summary>
public static class PersistentPartition
{
    /// <summary>
    /// Grows <paramref name="disk"/> by <paramref name="growth"/> bytes, stretches COS_PERSISTENT (the last partition)
    /// over the new room and formats it afresh, filled with <paramref name="contentDirectory"/>. Returns its size.
    /// </summary>
    public static async Task<long> GrowAndFillAsync(IToolRunner runner, string disk, long growth, string contentDirectory)
    {
        ArgumentNullException.ThrowIfNull(runner);
        await runner.RunAsync(new ToolInvocation("truncate", ["-s", string.Create(CultureInfo.InvariantCulture, $"+{growth}"), disk]) { Package = "coreutils" });
        await runner.RunAsync(new ToolInvocation("sgdisk", ["-e", disk]) { Package = "gdisk" });
        var table = GptReader.Read(disk);
        var persistent = table.FindByName(KairosLayout.PersistentLabel) ?? throw new InvalidOperationException($"{disk} has no {KairosLayout.PersistentLabel} partition");
        var number = (table.Partitions.ToList().IndexOf(persistent) + 1).ToString(CultureInfo.InvariantCulture);
        await runner.RunAsync(new ToolInvocation("sgdisk",
        [
            "-d", number,
            "-n", string.Create(CultureInfo.InvariantCulture, $"{number}:{persistent.FirstLba}:0"),
            "-t", $"{number}:{persistent.TypeGuid}",
            "-u", $"{number}:{persistent.PartitionGuid}",
            "-c", $"{number}:{persistent.Name}",
            disk,
        ])
        { Package = "gdisk" });
        var grown = GptReader.Read(disk).FindByName(KairosLayout.PersistentLabel)!;
        var size = ByteSize.AlignDown(grown.SizeBytes(), 4 * ByteSize.KiB);
        await new Ext4ImageBuilder(runner).FormatInPlaceAsync(disk, grown.OffsetBytes(), new Ext4ImageSpec(KairosLayout.PersistentLabel, Guid.NewGuid(), size)
        {
            SourceDirectory = contentDirectory,
        });
        return size;
    }
}
