using Basalt.Disk.Gpt;

namespace Basalt.Disk.Layout;

/// <summary>What a partition holds once the disk is assembled.</summary>
public enum FileSystemKind
{
    /// <summary>Raw: nothing is formatted, the partition is left as zeros or gets an opaque image.</summary>
    None,
    Vfat,
    Ext4,
    Squashfs,
}

/// <summary>A partition's size: a fixed number of bytes, or "fill the rest of the disk" with a minimum.</summary>
public sealed record PartitionSize(long Bytes, bool Fill)
{
    public static PartitionSize Fixed(long bytes) => new(bytes, Fill: false);

    /// <summary>Takes what the other partitions leave; <paramref name="minimumBytes"/> counts towards the minimum disk size.</summary>
    public static PartitionSize FillRest(long minimumBytes) => new(minimumBytes, Fill: true);

    public override string ToString() => Fill ? $"fill (min {ByteSize.Format(Bytes)})" : ByteSize.Format(Bytes);
}

/// <summary>One partition of a layout, before it is placed on a disk.</summary>
/// <param name="Label">The GPT partition name (e.g. COS_STATE); the mounter finds partitions by it.</param>
/// <param name="FileSystem">What the partition will hold.</param>
/// <param name="Size">Fixed or fill.</param>
/// <param name="TypeGuid">The GPT partition type.</param>
public sealed record PartitionSpec(string Label, FileSystemKind FileSystem, PartitionSize Size, Guid TypeGuid)
{
    /// <summary>The filesystem label; defaults to <see cref="Label"/>.</summary>
    public string? FileSystemLabel { get; init; }

    /// <summary>The filesystem UUID; defaults to one derived from the layout seed and the label.</summary>
    public Guid? FileSystemUuid { get; init; }

    public GptAttributes Attributes { get; init; }
}

/// <summary>
/// An ordered list of partitions plus the seed every GUID of the disk is derived from, so the same
/// layout and seed always give the same disk. <see cref="Resolve"/> places it on a disk of a size.
/// </summary>
public sealed record DiskLayout(string Seed, IReadOnlyList<PartitionSpec> Partitions)
{
    /// <summary>Room kept before the first partition (protective MBR, primary GPT, alignment).</summary>
    public const long LeadingBytes = GptGeometry.Alignment;

    /// <summary>Room kept after the last partition (backup GPT, alignment).</summary>
    public const long TrailingBytes = GptGeometry.Alignment;

    /// <summary>The smallest disk this layout fits on: fixed sizes and fill minimums, each aligned to 1 MiB, plus the GPT areas.</summary>
    public long MinimumDiskBytes
    {
        get
        {
            Validate();
            return LeadingBytes + Partitions.Sum(partition => ByteSize.AlignUp(partition.Size.Bytes, GptGeometry.Alignment)) + TrailingBytes;
        }
    }

    /// <summary>
    /// Places the partitions on a disk of <paramref name="requestedDiskBytes"/> (or the minimum when null).
    /// A fill partition takes what is left. Throws <see cref="DiskTooSmallException"/> when the request is below the minimum.
    /// </summary>
    public ResolvedDiskLayout Resolve(long? requestedDiskBytes = null)
    {
        var minimum = MinimumDiskBytes;
        var diskBytes = requestedDiskBytes ?? minimum;
        if (diskBytes < minimum)
        {
            throw new DiskTooSmallException(diskBytes, minimum);
        }

        if (diskBytes % GptGeometry.SectorSize != 0)
        {
            throw new InvalidLayoutException($"the disk size {diskBytes} is not a multiple of {GptGeometry.SectorSize}-byte sectors");
        }

        var totalSectors = diskBytes / GptGeometry.SectorSize;
        var fillEndExclusive = ByteSize.AlignDown((GptGeometry.LastUsableLba(totalSectors) + 1) * GptGeometry.SectorSize, GptGeometry.Alignment);
        var fixedAfterFill = 0L;
        var seenFill = false;
        foreach (var partition in Partitions)
        {
            if (seenFill)
            {
                fixedAfterFill += ByteSize.AlignUp(partition.Size.Bytes, GptGeometry.Alignment);
            }

            seenFill |= partition.Size.Fill;
        }

        var placements = new List<PartitionPlacement>(Partitions.Count);
        var offset = LeadingBytes;
        for (var index = 0; index < Partitions.Count; index++)
        {
            var spec = Partitions[index];
            var size = spec.Size.Fill
                ? fillEndExclusive - fixedAfterFill - offset
                : ByteSize.AlignUp(spec.Size.Bytes, GptGeometry.Alignment);
            var firstLba = offset / GptGeometry.SectorSize;
            placements.Add(new PartitionPlacement(
                index + 1,
                spec,
                firstLba,
                firstLba + (size / GptGeometry.SectorSize) - 1,
                DeterministicGuid.Create(Seed, "partition:" + spec.Label),
                spec.FileSystemUuid ?? DeterministicGuid.Create(Seed, "filesystem:" + spec.Label),
                spec.FileSystemLabel ?? spec.Label));
            offset += size;
        }

        return new ResolvedDiskLayout(Seed, DeterministicGuid.Create(Seed, "disk"), diskBytes, placements);
    }

    private void Validate()
    {
        if (Partitions.Count == 0)
        {
            throw new InvalidLayoutException("it has no partitions");
        }

        if (Partitions.Count > GptGeometry.EntryCount)
        {
            throw new InvalidLayoutException($"it has {Partitions.Count} partitions, a GPT holds {GptGeometry.EntryCount}");
        }

        if (Partitions.Count(partition => partition.Size.Fill) > 1)
        {
            throw new InvalidLayoutException("more than one partition fills the rest of the disk");
        }

        var duplicate = Partitions.GroupBy(partition => partition.Label, StringComparer.Ordinal).FirstOrDefault(group => group.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidLayoutException($"the label '{duplicate.Key}' is used twice");
        }

        foreach (var partition in Partitions)
        {
            ValidatePartition(partition);
        }
    }

    private static void ValidatePartition(PartitionSpec partition)
    {
        if (string.IsNullOrWhiteSpace(partition.Label) || partition.Label.Length > GptGeometry.MaxNameLength)
        {
            throw new InvalidLayoutException($"the label '{partition.Label}' must have 1 to {GptGeometry.MaxNameLength} characters");
        }

        if (partition.Size.Bytes < 0 || (!partition.Size.Fill && partition.Size.Bytes == 0))
        {
            throw new InvalidLayoutException($"partition {partition.Label} has size {partition.Size.Bytes}");
        }

        if (partition.TypeGuid == Guid.Empty)
        {
            throw new InvalidLayoutException($"partition {partition.Label} has no type GUID");
        }

        var fileSystemLabel = partition.FileSystemLabel ?? partition.Label;
        var limit = partition.FileSystem switch
        {
            FileSystemKind.Vfat => 11,
            FileSystemKind.Ext4 => 16,
            _ => int.MaxValue,
        };
        if (fileSystemLabel.Length > limit)
        {
            throw new InvalidLayoutException($"the {partition.FileSystem} label '{fileSystemLabel}' of {partition.Label} is longer than {limit} characters");
        }
    }
}

/// <summary>A partition placed on a disk: its slot, LBAs and the GUIDs derived for it.</summary>
public sealed record PartitionPlacement(
    int Number,
    PartitionSpec Spec,
    long FirstLba,
    long LastLba,
    Guid PartitionGuid,
    Guid FileSystemUuid,
    string FileSystemLabel)
{
    public string Label => Spec.Label;

    public long OffsetBytes => FirstLba * GptGeometry.SectorSize;

    public long SizeBytes => (LastLba - FirstLba + 1) * GptGeometry.SectorSize;

    public GptPartition ToGptPartition() =>
        new(Spec.TypeGuid, PartitionGuid, FirstLba, LastLba, Spec.Attributes, Spec.Label);
}

/// <summary>A layout placed on a disk of a given size: everything the GPT writer and the assembler need.</summary>
public sealed record ResolvedDiskLayout(string Seed, Guid DiskGuid, long DiskBytes, IReadOnlyList<PartitionPlacement> Partitions)
{
    public PartitionPlacement? Find(string label) =>
        Partitions.FirstOrDefault(partition => string.Equals(partition.Label, label, StringComparison.Ordinal));

    public PartitionPlacement Get(string label) =>
        Find(label) ?? throw new PartitionNotFoundException(label, "the layout", Partitions.Select(partition => partition.Label));

    public GptDisk ToGpt() =>
        new(DiskGuid, DiskBytes / GptGeometry.SectorSize, Partitions.Select(partition => partition.ToGptPartition()).ToList());
}
