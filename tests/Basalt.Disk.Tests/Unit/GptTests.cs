using System.Buffers.Binary;
using System.Text;
using Basalt.Disk.Gpt;

namespace Basalt.Disk.Tests.Unit;

public sealed class GptTests
{
    private const long TotalSectors = 64 * 2048; // 64 MiB
    private static readonly Guid DiskGuid = new("11111111-2222-3333-4444-555555555555");
    private static readonly Guid FirstGuid = new("aaaaaaaa-0000-0000-0000-000000000001");
    private static readonly Guid SecondGuid = new("aaaaaaaa-0000-0000-0000-000000000002");

    private static GptDisk Sample() => new(DiskGuid, TotalSectors,
    [
        new GptPartition(PartitionTypes.EfiSystem, FirstGuid, 2048, 4095, GptAttributes.None, "COS_GRUB"),
        new GptPartition(PartitionTypes.LinuxFilesystem, SecondGuid, 4096, TotalSectors - 2049, GptAttributes.LegacyBiosBootable | GptAttributes.ReadOnly, "COS_PERSISTENT"),
    ]);

    private static byte[] DiskBytes(GptDisk disk)
    {
        var image = GptWriter.Build(disk);
        var bytes = new byte[disk.TotalSectors * 512];
        image.Primary.CopyTo(bytes, 0);
        image.Backup.CopyTo(bytes, image.BackupOffset);
        return bytes;
    }

    [Fact]
    public void Protective_mbr_covers_the_disk_with_type_ee()
    {
        var mbr = GptWriter.Build(Sample()).Primary.AsSpan(0, 512);
        Assert.Equal(0x55, mbr[510]);
        Assert.Equal(0xAA, mbr[511]);
        Assert.Equal(0xEE, mbr[446 + 4]);
        Assert.Equal(0x00, mbr[446]);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(mbr[(446 + 8)..]));
        Assert.Equal((uint)(TotalSectors - 1), BinaryPrimitives.ReadUInt32LittleEndian(mbr[(446 + 12)..]));
        Assert.True(mbr[462..510].IndexOfAnyExcept((byte)0) < 0, "the other three MBR records are empty");
    }

    [Fact]
    public void Primary_header_fields_are_at_their_uefi_offsets()
    {
        var header = GptWriter.Build(Sample()).Primary.AsSpan(512, 512);
        Assert.True(header[..8].SequenceEqual("EFI PART"u8));
        Assert.Equal(0x00010000u, BinaryPrimitives.ReadUInt32LittleEndian(header[8..]));
        Assert.Equal(92u, BinaryPrimitives.ReadUInt32LittleEndian(header[12..]));
        Assert.Equal(1L, BinaryPrimitives.ReadInt64LittleEndian(header[24..]));
        Assert.Equal(TotalSectors - 1, BinaryPrimitives.ReadInt64LittleEndian(header[32..]));
        Assert.Equal(34L, BinaryPrimitives.ReadInt64LittleEndian(header[40..]));
        Assert.Equal(TotalSectors - 34, BinaryPrimitives.ReadInt64LittleEndian(header[48..]));
        Assert.Equal(DiskGuid, new Guid(header[56..72]));
        Assert.Equal(2L, BinaryPrimitives.ReadInt64LittleEndian(header[72..]));
        Assert.Equal(128u, BinaryPrimitives.ReadUInt32LittleEndian(header[80..]));
        Assert.Equal(128u, BinaryPrimitives.ReadUInt32LittleEndian(header[84..]));
        Assert.True(header[92..].IndexOfAnyExcept((byte)0) < 0, "the rest of the header sector is zero");
    }

    [Fact]
    public void Header_and_entry_array_crcs_are_correct()
    {
        var primary = GptWriter.Build(Sample()).Primary;
        var header = primary.AsSpan(512, 92).ToArray();
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 0);
        Assert.Equal(Crc32.Compute(header), stored);
        Assert.Equal(Crc32.Compute(primary.AsSpan(1024, 128 * 128)), BinaryPrimitives.ReadUInt32LittleEndian(primary.AsSpan(512 + 88)));
    }

    [Fact]
    public void Entries_hold_mixed_endian_guids_lbas_attributes_and_utf16_names()
    {
        var entry = GptWriter.Build(Sample()).Primary.AsSpan(1024, 128);
        byte[] efiOnDisk = [0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B];
        Assert.Equal(efiOnDisk, entry[..16].ToArray());
        Assert.Equal(FirstGuid, new Guid(entry[16..32]));
        Assert.Equal(2048L, BinaryPrimitives.ReadInt64LittleEndian(entry[32..]));
        Assert.Equal(4095L, BinaryPrimitives.ReadInt64LittleEndian(entry[40..]));
        Assert.Equal("COS_GRUB", Encoding.Unicode.GetString(entry.Slice(56, 16)));
        Assert.True(entry[72..].IndexOfAnyExcept((byte)0) < 0, "the name is zero padded");

        var second = GptWriter.Build(Sample()).Primary.AsSpan(1024 + 128, 128);
        Assert.Equal((1UL << 2) | (1UL << 60), BinaryPrimitives.ReadUInt64LittleEndian(second[48..]));
        var unused = GptWriter.Build(Sample()).Primary.AsSpan(1024 + 256, 126 * 128);
        Assert.True(unused.IndexOfAnyExcept((byte)0) < 0, "unused entries are zero");
    }

    [Fact]
    public void Backup_entries_and_header_sit_at_the_end_and_point_back()
    {
        var image = GptWriter.Build(Sample());
        Assert.Equal((TotalSectors - 33) * 512, image.BackupOffset);
        Assert.Equal(33 * 512, image.Backup.Length);
        Assert.Equal(image.Primary.AsSpan(1024, 128 * 128).ToArray(), image.Backup.AsSpan(0, 128 * 128).ToArray());

        var backupHeader = image.Backup.AsSpan(128 * 128, 512);
        Assert.True(backupHeader[..8].SequenceEqual("EFI PART"u8));
        Assert.Equal(TotalSectors - 1, BinaryPrimitives.ReadInt64LittleEndian(backupHeader[24..]));
        Assert.Equal(1L, BinaryPrimitives.ReadInt64LittleEndian(backupHeader[32..]));
        Assert.Equal(TotalSectors - 33, BinaryPrimitives.ReadInt64LittleEndian(backupHeader[72..]));
        var copy = backupHeader[..92].ToArray();
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(16), 0);
        Assert.Equal(Crc32.Compute(copy), stored);
    }

    [Fact]
    public void Reader_round_trips_the_writer()
    {
        using var stream = new MemoryStream(DiskBytes(Sample()));
        var read = GptReader.Read(stream);
        Assert.Equal(DiskGuid, read.DiskGuid);
        Assert.Equal(TotalSectors, read.TotalSectors);
        Assert.Equal(Sample().Partitions, read.Partitions);
        Assert.Equal(4096L * 512, read.FindByName("COS_PERSISTENT")!.OffsetBytes());
        Assert.Null(read.FindByName("COS_STATE"));
    }

    [Fact]
    public void Reader_falls_back_to_the_backup_when_the_primary_is_damaged()
    {
        var bytes = DiskBytes(Sample());
        bytes[512 + 60] ^= 0xFF; // disk GUID byte: header CRC no longer matches
        using var stream = new MemoryStream(bytes);
        Assert.Equal(Sample().Partitions, GptReader.Read(stream).Partitions);
    }

    [Fact]
    public void Reader_rejects_a_damaged_entry_array_in_both_copies()
    {
        var bytes = DiskBytes(Sample());
        bytes[1024 + 40] ^= 0x01;
        bytes[(TotalSectors - 33) * 512 + 40] ^= 0x01;
        using var stream = new MemoryStream(bytes);
        var error = Assert.Throws<InvalidGptException>(() => GptReader.Read(stream, "disk.raw"));
        Assert.Contains("entry array CRC32", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reader_rejects_a_disk_without_gpt()
    {
        using var stream = new MemoryStream(new byte[1024 * 1024]);
        var error = Assert.Throws<InvalidGptException>(() => GptReader.Read(stream, "blank.raw"));
        Assert.Equal("invalid-gpt", error.Kind);
        Assert.Contains("blank.raw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_partition_reads_a_disk_file_and_names_what_it_has_when_the_label_is_missing()
    {
        using var temp = new Basalt.Testing.TempDirectory("gpt");
        var path = temp.Combine("disk.raw");
        File.WriteAllBytes(path, DiskBytes(Sample()));
        Assert.Equal(2048, GptReader.FindPartition(path, "COS_GRUB").FirstLba);
        var error = Assert.Throws<PartitionNotFoundException>(() => GptReader.FindPartition(path, "COS_STATE"));
        Assert.Contains("COS_GRUB, COS_PERSISTENT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reader_reports_a_missing_file_as_invalid_gpt() =>
        Assert.Throws<InvalidGptException>(() => GptReader.Read("/nonexistent/basalt-disk.raw"));

    [Fact]
    public void Writer_rejects_overlapping_partitions()
    {
        var disk = Sample() with
        {
            Partitions = [.. Sample().Partitions, new GptPartition(PartitionTypes.LinuxFilesystem, Guid.NewGuid(), 4000, 5000, GptAttributes.None, "X")],
        };
        Assert.Throws<ArgumentException>(() => GptWriter.Build(disk));
    }

    [Fact]
    public void Writer_rejects_a_partition_over_the_backup_area()
    {
        var disk = Sample() with
        {
            Partitions = [new GptPartition(PartitionTypes.LinuxFilesystem, Guid.NewGuid(), 2048, TotalSectors - 33, GptAttributes.None, "X")],
        };
        Assert.Throws<ArgumentException>(() => GptWriter.Build(disk));
    }

    [Fact]
    public void Writer_rejects_names_longer_than_36_units()
    {
        var disk = Sample() with
        {
            Partitions = [new GptPartition(PartitionTypes.LinuxFilesystem, Guid.NewGuid(), 2048, 4095, GptAttributes.None, new string('x', 37))],
        };
        Assert.Throws<ArgumentException>(() => GptWriter.Build(disk));
    }

    [Fact]
    public void Writer_accepts_a_36_unit_name_and_the_reader_reads_it_back()
    {
        var name = new string('n', 36);
        var disk = Sample() with
        {
            Partitions = [new GptPartition(PartitionTypes.LinuxFilesystem, SecondGuid, 2048, 4095, GptAttributes.None, name)],
        };
        using var stream = new MemoryStream(DiskBytes(disk));
        Assert.Equal(name, GptReader.Read(stream).Partitions[0].Name);
    }
}
