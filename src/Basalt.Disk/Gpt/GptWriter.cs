using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Basalt.Disk.Gpt;

/// <summary>The bytes of a GPT: what goes at the start of the disk and what goes at its end.</summary>
public sealed record GptImage(byte[] Primary, byte[] Backup, long BackupOffset);

/// <summary>
/// Builds a GPT as bytes: protective MBR (LBA 0), primary header (LBA 1), 128 entries (LBA 2–33),
/// the backup entries right before the last sector and the backup header in the last sector.
/// </summary>
public static class GptWriter
{
    public static GptImage Build(GptDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        Validate(disk);

        var entries = BuildEntries(disk.Partitions);
        var entriesCrc = Crc32.Compute(entries);
        var lastLba = disk.TotalSectors - 1;
        var backupEntriesLba = lastLba - GptGeometry.EntryArraySectors;

        var primary = new byte[(int)GptGeometry.FirstUsableLba * GptGeometry.SectorSize];
        WriteProtectiveMbr(primary.AsSpan(0, GptGeometry.SectorSize), disk.TotalSectors);
        WriteHeader(primary.AsSpan(GptGeometry.SectorSize, GptGeometry.SectorSize), disk, myLba: 1, alternateLba: lastLba, entriesLba: 2, entriesCrc);
        entries.CopyTo(primary.AsSpan(2 * GptGeometry.SectorSize));

        var backup = new byte[GptGeometry.BackupSectors * GptGeometry.SectorSize];
        entries.CopyTo(backup.AsSpan());
        WriteHeader(backup.AsSpan(entries.Length, GptGeometry.SectorSize), disk, myLba: lastLba, alternateLba: 1, entriesLba: backupEntriesLba, entriesCrc);

        return new GptImage(primary, backup, backupEntriesLba * GptGeometry.SectorSize);
    }

    /// <summary>Writes both copies of the table into an open disk file of the right length.</summary>
    public static void WriteTo(SafeFileHandle disk, GptDisk table)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var image = Build(table);
        RandomAccess.Write(disk, image.Primary, 0);
        RandomAccess.Write(disk, image.Backup, image.BackupOffset);
    }

    private static void Validate(GptDisk disk)
    {
        var minimumSectors = GptGeometry.FirstUsableLba + GptGeometry.BackupSectors + 1;
        if (disk.TotalSectors < minimumSectors)
        {
            throw new ArgumentException($"a GPT disk needs at least {minimumSectors} sectors, got {disk.TotalSectors}", nameof(disk));
        }

        if (disk.Partitions.Count > GptGeometry.EntryCount)
        {
            throw new ArgumentException($"a GPT holds at most {GptGeometry.EntryCount} partitions, got {disk.Partitions.Count}", nameof(disk));
        }

        var lastUsable = disk.LastUsableLba;
        var ordered = disk.Partitions.OrderBy(partition => partition.FirstLba).ToList();
        for (var index = 0; index < ordered.Count; index++)
        {
            var partition = ordered[index];
            if (partition.FirstLba < GptGeometry.FirstUsableLba || partition.LastLba > lastUsable || partition.LastLba < partition.FirstLba)
            {
                throw new ArgumentException(
                    $"partition '{partition.Name}' spans LBA {partition.FirstLba}–{partition.LastLba}, outside the usable range {GptGeometry.FirstUsableLba}–{lastUsable}",
                    nameof(disk));
            }

            if (index > 0 && ordered[index - 1].LastLba >= partition.FirstLba)
            {
                throw new ArgumentException($"partitions '{ordered[index - 1].Name}' and '{partition.Name}' overlap", nameof(disk));
            }

            if (partition.Name.Length > GptGeometry.MaxNameLength)
            {
                throw new ArgumentException($"partition name '{partition.Name}' is longer than {GptGeometry.MaxNameLength} UTF-16 units", nameof(disk));
            }

            if (partition.TypeGuid == Guid.Empty)
            {
                throw new ArgumentException($"partition '{partition.Name}' has no type GUID (an empty type marks an unused entry)", nameof(disk));
            }
        }
    }

    private static byte[] BuildEntries(IReadOnlyList<GptPartition> partitions)
    {
        var entries = new byte[GptGeometry.EntryCount * GptGeometry.EntrySize];
        for (var index = 0; index < partitions.Count; index++)
        {
            var partition = partitions[index];
            var entry = entries.AsSpan(index * GptGeometry.EntrySize, GptGeometry.EntrySize);
            partition.TypeGuid.TryWriteBytes(entry[0..16]);
            partition.PartitionGuid.TryWriteBytes(entry[16..32]);
            BinaryPrimitives.WriteInt64LittleEndian(entry[32..], partition.FirstLba);
            BinaryPrimitives.WriteInt64LittleEndian(entry[40..], partition.LastLba);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[48..], (ulong)partition.Attributes);
            Encoding.Unicode.GetBytes(partition.Name, entry[56..128]);
        }

        return entries;
    }

    private static void WriteProtectiveMbr(Span<byte> sector, long totalSectors)
    {
        var record = sector[446..462];
        record[0] = 0x00; // not bootable
        record[1] = 0x00; // starting CHS 0/0/2
        record[2] = 0x02;
        record[3] = 0x00;
        record[4] = 0xEE; // GPT protective
        record[5] = 0xFF; // ending CHS: beyond CHS range
        record[6] = 0xFF;
        record[7] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)Math.Min(totalSectors - 1, uint.MaxValue));
        sector[510] = 0x55;
        sector[511] = 0xAA;
    }

    private static void WriteHeader(Span<byte> sector, GptDisk disk, long myLba, long alternateLba, long entriesLba, uint entriesCrc)
    {
        "EFI PART"u8.CopyTo(sector);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[8..], 0x00010000);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[12..], GptGeometry.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[16..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[20..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(sector[24..], myLba);
        BinaryPrimitives.WriteInt64LittleEndian(sector[32..], alternateLba);
        BinaryPrimitives.WriteInt64LittleEndian(sector[40..], GptGeometry.FirstUsableLba);
        BinaryPrimitives.WriteInt64LittleEndian(sector[48..], disk.LastUsableLba);
        disk.DiskGuid.TryWriteBytes(sector[56..72]);
        BinaryPrimitives.WriteInt64LittleEndian(sector[72..], entriesLba);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[80..], GptGeometry.EntryCount);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[84..], GptGeometry.EntrySize);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[88..], entriesCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[16..], Crc32.Compute(sector[..GptGeometry.HeaderSize]));
    }
}
