using System.Buffers.Binary;
using System.Text;

namespace Basalt.Disk.Gpt;

/// <summary>
/// Reads a GPT from a disk image or device. The primary header is trusted when its signature and
/// both CRCs hold; otherwise the backup at the last sector is tried, as firmware does.
/// </summary>
public static class GptReader
{
    public static GptDisk Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return Read(stream, path);
        }
        catch (FileNotFoundException exception)
        {
            throw new InvalidGptException(path, "the file does not exist", exception);
        }
        catch (DirectoryNotFoundException exception)
        {
            throw new InvalidGptException(path, "the file does not exist", exception);
        }
    }

    /// <summary>The partition whose GPT name is <paramref name="label"/> on the disk image at <paramref name="path"/>.</summary>
    public static GptPartition FindPartition(string path, string label)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        var table = Read(path);
        return table.FindByName(label) ?? throw new PartitionNotFoundException(label, path, table.Partitions.Select(partition => partition.Name));
    }

    /// <summary>Reads from a seekable stream whose length is the disk size (a block device's length must be known).</summary>
    public static GptDisk Read(Stream disk, string description = "disk")
    {
        ArgumentNullException.ThrowIfNull(disk);
        var length = disk.Length;
        if (length < (GptGeometry.FirstUsableLba + GptGeometry.BackupSectors + 1) * GptGeometry.SectorSize)
        {
            throw new InvalidGptException(description, $"it is only {length} bytes, too small to hold a GPT");
        }

        var totalSectors = length / GptGeometry.SectorSize;
        var primaryFailure = TryReadAt(disk, 1, totalSectors, out var table);
        if (table is not null)
        {
            return table;
        }

        var backupFailure = TryReadAt(disk, totalSectors - 1, totalSectors, out table);
        return table ?? throw new InvalidGptException(description, $"primary header: {primaryFailure}; backup header: {backupFailure}");
    }

    private static string? TryReadAt(Stream disk, long headerLba, long totalSectors, out GptDisk? table)
    {
        table = null;
        var header = ReadSectors(disk, headerLba, 1);
        if (!header.AsSpan(0, 8).SequenceEqual("EFI PART"u8))
        {
            return "no 'EFI PART' signature";
        }

        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12));
        if (headerSize < GptGeometry.HeaderSize || headerSize > GptGeometry.SectorSize)
        {
            return $"header size {headerSize} is invalid";
        }

        var storedHeaderCrc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16));
        var copy = header.AsSpan(0, (int)headerSize).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(16), 0);
        if (Crc32.Compute(copy) != storedHeaderCrc)
        {
            return "header CRC32 mismatch";
        }

        var myLba = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24));
        if (myLba != headerLba)
        {
            return $"header says it lives at LBA {myLba}, found at LBA {headerLba}";
        }

        var diskGuid = new Guid(header.AsSpan(56, 16));
        var entriesLba = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(72));
        var entryCount = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(80));
        var entrySize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(84));
        var storedEntriesCrc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(88));
        if (entrySize < 128 || entrySize % 8 != 0 || entryCount == 0 || entryCount > 4096)
        {
            return $"entry geometry {entryCount}×{entrySize} is invalid";
        }

        var arrayBytes = (long)entryCount * entrySize;
        var arraySectors = (arrayBytes + GptGeometry.SectorSize - 1) / GptGeometry.SectorSize;
        if (entriesLba < 0 || entriesLba + arraySectors > totalSectors)
        {
            return $"entry array at LBA {entriesLba} lies outside the disk";
        }

        var entries = ReadSectors(disk, entriesLba, (int)arraySectors);
        if (Crc32.Compute(entries.AsSpan(0, (int)arrayBytes)) != storedEntriesCrc)
        {
            return "partition entry array CRC32 mismatch";
        }

        var partitions = new List<GptPartition>();
        for (var index = 0; index < entryCount; index++)
        {
            var entry = entries.AsSpan(index * (int)entrySize, (int)entrySize);
            var type = new Guid(entry[..16]);
            if (type == Guid.Empty)
            {
                continue;
            }

            var name = Encoding.Unicode.GetString(entry[56..128]);
            var terminator = name.IndexOf('\0', StringComparison.Ordinal);
            partitions.Add(new GptPartition(
                type,
                new Guid(entry[16..32]),
                BinaryPrimitives.ReadInt64LittleEndian(entry[32..]),
                BinaryPrimitives.ReadInt64LittleEndian(entry[40..]),
                (GptAttributes)BinaryPrimitives.ReadUInt64LittleEndian(entry[48..]),
                terminator < 0 ? name : name[..terminator]));
        }

        table = new GptDisk(diskGuid, totalSectors, partitions);
        return null;
    }

    private static byte[] ReadSectors(Stream disk, long lba, int count)
    {
        var buffer = new byte[count * GptGeometry.SectorSize];
        disk.Seek(lba * GptGeometry.SectorSize, SeekOrigin.Begin);
        disk.ReadExactly(buffer);
        return buffer;
    }
}
