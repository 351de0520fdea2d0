using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Platform;

namespace Basalt.Config.Stages;

/// <summary>A partition as the disk's GPT describes it.</summary>
public sealed record DiskPartition(int Number, string Node, long StartSector, long SizeSectors)
{
    public string? Name { get; init; }
    public string? TypeGuid { get; init; }
    public string? PartitionGuid { get; init; }
    public string? FileSystem { get; init; }
    public long EndSector => StartSector + SizeSectors - 1;
}

/// <summary>What the layout planner needs to know about a disk.</summary>
public sealed record DiskGeometry(string Device, int SectorSize, long FirstUsableSector, long LastUsableSector, IReadOnlyList<DiskPartition> Partitions);

/// <summary>One thing the layout step does, with the commands that do it.</summary>
public sealed record LayoutOperation(string Description, IReadOnlyList<ToolInvocation> Commands);

/// <summary>The layout step as data: print it, test it, then run it.</summary>
public sealed record LayoutPlan(string Device, IReadOnlyList<LayoutOperation> Operations);

/// <summary>
/// Plans yip's <c>layout</c>: optionally a fresh GPT, then the last partition grown (never shrunk), then
/// partitions appended in order, each 1 MiB aligned, a size of 0 taking the rest of the disk; a partition
/// whose partition label already exists is left alone so the step can run on every boot.
/// </summary>
public static class LayoutPlanner
{
    private const long MiB = 1024 * 1024;

    public static LayoutPlan Plan(StageLayout layout, DiskGeometry disk)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(disk);
        var device = disk.Device;
        var alignment = MiB / disk.SectorSize;
        var operations = new List<LayoutOperation>();
        var partitions = disk.Partitions.ToList();
        if (layout.Device.InitDisk)
        {
            operations.Add(new LayoutOperation($"write a new empty GPT on {device}", [Sgdisk(device, "--zap-all"), Sgdisk(device, "--clear")]));
            partitions.Clear();
        }
        else
        {
            // A grown disk image keeps its backup GPT in the middle; move it to the end first.
            operations.Add(new LayoutOperation($"move the backup GPT of {device} to the end of the disk", [Sgdisk(device, "--move-second-header")]));
        }

        if (layout.Expand is { } expand && partitions.Count > 0)
        {
            var last = partitions.MaxBy(p => p.EndSector)!;
            var wantedEnd = expand.SizeMiB == 0
                ? disk.LastUsableSector
                : Math.Min(disk.LastUsableSector, last.StartSector + (expand.SizeMiB * MiB / disk.SectorSize) - 1);
            if (wantedEnd > last.EndSector)
            {
                var arguments = new List<string> { $"--delete={last.Number}", $"--new={last.Number}:{last.StartSector}:{wantedEnd}" };
                if (last.TypeGuid is { Length: > 0 } type)
                {
                    arguments.Add($"--typecode={last.Number}:{type}");
                }

                if (last.PartitionGuid is { Length: > 0 } guid)
                {
                    arguments.Add($"--partition-guid={last.Number}:{guid}");
                }

                if (last.Name is { Length: > 0 } name)
                {
                    arguments.Add($"--change-name={last.Number}:{name}");
                }

                var commands = new List<ToolInvocation> { Sgdisk(device, [.. arguments]), Reread(device) };
                var grow = GrowFileSystem(last);
                commands.AddRange(grow);
                var newSize = wantedEnd - last.StartSector + 1;
                operations.Add(new LayoutOperation(
                    $"grow partition {last.Number} ({last.Node}) from {last.SizeSectors * disk.SectorSize / MiB} MiB to {newSize * disk.SectorSize / MiB} MiB"
                    + (grow.Count == 0 ? $"; its {last.FileSystem ?? "unknown"} filesystem is not grown" : string.Empty),
                    commands));
                partitions[partitions.IndexOf(last)] = last with { SizeSectors = newSize };
            }
            else
            {
                operations.Add(new LayoutOperation($"partition {last.Number} ({last.Node}) is already at least {expand.SizeMiB} MiB", []));
            }
        }

        var nextNumber = partitions.Count == 0 ? 1 : partitions.Max(p => p.Number) + 1;
        var nextStart = partitions.Count == 0 ? AlignUp(disk.FirstUsableSector, alignment) : AlignUp(partitions.Max(p => p.EndSector) + 1, alignment);
        foreach (var partition in layout.AddPartitions)
        {
            if (partition.PartitionLabel is { Length: > 0 } existing && partitions.Any(p => p.Name == existing))
            {
                operations.Add(new LayoutOperation($"a partition labelled {existing} exists; not added again", []));
                continue;
            }

            var end = partition.SizeMiB == 0 ? disk.LastUsableSector : nextStart + (partition.SizeMiB * MiB / disk.SectorSize) - 1;
            if (nextStart > disk.LastUsableSector || end > disk.LastUsableSector)
            {
                throw new StageStepException(
                    $"no room on {device} for a {(partition.SizeMiB == 0 ? "rest-of-disk" : partition.SizeMiB + " MiB")} partition {partition.PartitionLabel ?? partition.FileSystemLabel}",
                    "make the partitions smaller or the disk bigger");
            }

            var number = nextNumber++;
            var node = PartitionNode(device, number);
            var arguments = new List<string> { $"--new={number}:{nextStart}:{end}", $"--typecode={number}:{TypeCode(partition)}" };
            if (partition.PartitionLabel is { Length: > 0 } label)
            {
                arguments.Add($"--change-name={number}:{label}");
            }

            var commands = new List<ToolInvocation> { Sgdisk(device, [.. arguments]), Reread(device) };
            if (Format(partition, node) is { } format)
            {
                commands.Add(format);
            }

            operations.Add(new LayoutOperation(
                $"add partition {number} ({node}) of {(end - nextStart + 1) * disk.SectorSize / MiB} MiB, {partition.FileSystem}"
                + (partition.FileSystemLabel is { Length: > 0 } fsLabel ? $" labelled {fsLabel}" : string.Empty),
                commands));
            partitions.Add(new DiskPartition(number, node, nextStart, end - nextStart + 1) { Name = partition.PartitionLabel });
            nextStart = AlignUp(end + 1, alignment);
        }

        return new LayoutPlan(device, operations);
    }

    /// <summary>/dev/sda + 3 → /dev/sda3; /dev/nvme0n1 + 3 → /dev/nvme0n1p3.</summary>
    public static string PartitionNode(string device, int number) =>
        char.IsAsciiDigit(device[^1]) ? $"{device}p{number}" : $"{device}{number}";

    /// <summary>Reads <c>sfdisk --json</c> output (plus lsblk's filesystem types) into a <see cref="DiskGeometry"/>.</summary>
    public static DiskGeometry ParseSfdisk(string json, IReadOnlyDictionary<string, string>? fileSystems = null)
    {
        var table = JsonNode.Parse(json)?["partitiontable"] as JsonObject
            ?? throw new StageStepException("sfdisk --json printed no partition table");
        var device = table["device"]?.GetValue<string>() ?? throw new StageStepException("sfdisk --json printed no device");
        var sectorSize = (int)(Long(table["sectorsize"]) ?? 512);
        var partitions = new List<DiskPartition>();
        if (table["partitions"] is JsonArray list)
        {
            foreach (var item in list.OfType<JsonObject>())
            {
                var node = item["node"]?.GetValue<string>() ?? string.Empty;
                var digits = new string(node.Reverse().TakeWhile(char.IsAsciiDigit).Reverse().ToArray());
                partitions.Add(new DiskPartition(int.Parse(digits, CultureInfo.InvariantCulture), node, Long(item["start"]) ?? 0, Long(item["size"]) ?? 0)
                {
                    Name = item["name"]?.GetValue<string>(),
                    TypeGuid = item["type"]?.GetValue<string>(),
                    PartitionGuid = item["uuid"]?.GetValue<string>(),
                    FileSystem = fileSystems?.GetValueOrDefault(node),
                });
            }
        }

        return new DiskGeometry(device, sectorSize, Long(table["firstlba"]) ?? 2048, Long(table["lastlba"]) ?? 0, partitions);
    }

    private static long? Long(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number ? value.GetValue<long>() : null;

    private static long AlignUp(long sector, long alignment) => (sector + alignment - 1) / alignment * alignment;

    private static ToolInvocation Sgdisk(string device, params string[] arguments) =>
        new("sgdisk", [.. arguments, device]) { Package = "gdisk" };

    private static ToolInvocation Reread(string device) => new("partx", ["-u", device]) { Package = "util-linux" };

    private static List<ToolInvocation> GrowFileSystem(DiskPartition partition) => partition.FileSystem switch
    {
        "ext2" or "ext3" or "ext4" =>
        [
            new ToolInvocation("e2fsck", ["-f", "-p", partition.Node]) { Package = "e2fsprogs", SuccessExitCodes = [0, 1] },
            new ToolInvocation("resize2fs", [partition.Node]) { Package = "e2fsprogs" },
        ],
        _ => [],
    };

    private static string TypeCode(LayoutPartition partition) => partition.FileSystem switch
    {
        "swap" => "8200",
        "vfat" or "fat" or "fat16" or "fat32" when partition.Bootable => "EF00",
        _ when partition.Bootable => "EF02",
        _ => "8300",
    };

    private static ToolInvocation? Format(LayoutPartition partition, string node)
    {
        var label = partition.FileSystemLabel;
        List<string> WithLabel(string flag, params string[] arguments) =>
            label is { Length: > 0 } ? [.. arguments, flag, label, node] : [.. arguments, node];

        return partition.FileSystem switch
        {
            "ext2" or "ext3" or "ext4" => new ToolInvocation("mkfs." + partition.FileSystem, WithLabel("-L", "-F")) { Package = "e2fsprogs" },
            "xfs" => new ToolInvocation("mkfs.xfs", WithLabel("-L", "-f")) { Package = "xfsprogs" },
            "btrfs" => new ToolInvocation("mkfs.btrfs", WithLabel("-L", "-f")) { Package = "btrfs-progs" },
            "fat16" => new ToolInvocation("mkfs.vfat", WithLabel("-n", "-F", "16")) { Package = "dosfstools" },
            "vfat" or "fat" or "fat32" => new ToolInvocation("mkfs.vfat", WithLabel("-n", "-F", "32")) { Package = "dosfstools" },
            "swap" => new ToolInvocation("mkswap", WithLabel("-L")) { Package = "util-linux" },
            _ => null,
        };
    }
}
