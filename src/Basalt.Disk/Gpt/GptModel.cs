namespace Basalt.Disk.Gpt;

/// <summary>Well-known GPT partition type GUIDs.</summary>
public static class PartitionTypes
{
    public static readonly Guid EfiSystem = new("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    public static readonly Guid LinuxFilesystem = new("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    public static readonly Guid BiosBoot = new("21686148-6449-6E6F-744E-656564454649");
}

/// <summary>GPT partition attribute bits (UEFI 2.x table 5-8 plus the common type-specific ones).</summary>
[Flags]
#pragma warning disable CA1028 // The on-disk field is 64 bits wide; the enum mirrors it.
public enum GptAttributes : ulong
#pragma warning restore CA1028
{
    None = 0,
    RequiredPartition = 1UL << 0,
    NoBlockIOProtocol = 1UL << 1,
    LegacyBiosBootable = 1UL << 2,
    ReadOnly = 1UL << 60,
    Hidden = 1UL << 62,
    NoAutomount = 1UL << 63,
}

/// <summary>One GPT partition entry. LBAs are inclusive, as on disk.</summary>
public sealed record GptPartition(
    Guid TypeGuid,
    Guid PartitionGuid,
    long FirstLba,
    long LastLba,
    GptAttributes Attributes,
    string Name)
{
    public long SectorCount => LastLba - FirstLba + 1;

    public long OffsetBytes(int sectorSize = GptGeometry.SectorSize) => FirstLba * sectorSize;

    public long SizeBytes(int sectorSize = GptGeometry.SectorSize) => SectorCount * sectorSize;
}

/// <summary>A whole partition table: the disk GUID, the disk size in sectors and the used entries in slot order.</summary>
public sealed record GptDisk(Guid DiskGuid, long TotalSectors, IReadOnlyList<GptPartition> Partitions)
{
    public long FirstUsableLba => GptGeometry.FirstUsableLba;

    public long LastUsableLba => GptGeometry.LastUsableLba(TotalSectors);

    /// <summary>The partition whose GPT name is <paramref name="name"/>, or null.</summary>
    public GptPartition? FindByName(string name) =>
        Partitions.FirstOrDefault(partition => string.Equals(partition.Name, name, StringComparison.Ordinal));
}

/// <summary>Sizes fixed by Basalt's choice of GPT: 512-byte sectors, 128 entries of 128 bytes.</summary>
public static class GptGeometry
{
    public const int SectorSize = 512;
    public const int EntryCount = 128;
    public const int EntrySize = 128;
    public const int HeaderSize = 92;
    public const int MaxNameLength = 36;
    public const long Alignment = 1024 * 1024;
    public const long AlignmentSectors = Alignment / SectorSize;

    /// <summary>Sectors taken by the partition entry array (16 KiB → 32 sectors).</summary>
    public const int EntryArraySectors = EntryCount * EntrySize / SectorSize;

    /// <summary>Protective MBR + primary header + entry array.</summary>
    public const long FirstUsableLba = 2 + EntryArraySectors;

    public static long LastUsableLba(long totalSectors) => totalSectors - 1 - EntryArraySectors - 1;

    /// <summary>Sectors the backup entry array and backup header take at the end of the disk.</summary>
    public const int BackupSectors = EntryArraySectors + 1;
}
