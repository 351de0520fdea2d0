using System.Buffers.Binary;
using System.Text;
using Basalt.Disk.FileSystems.Ext4;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Unit;

/// <summary>The ext4 writer's refusals, its encodings, and the superblock of what it writes (no root, no tools).</summary>
public sealed class Ext4ImageWriterUnitTests
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private static readonly Ext4EntryMetadata File644 = new((UnixFileMode)Convert.ToInt32("644", 8), 0, 0, Epoch);

    private static Ext4ImageWriter Create(TempDirectory temp, long maxBytes = 1L << 40) =>
        Ext4ImageWriter.Create(temp.Combine("image.img"), new Ext4ImageWriterOptions("UNIT", Guid.Parse("0b7e1d3c-5a2f-4e6d-8c9b-1a2b3c4d5e6f")) { Timestamp = Epoch, MaxImageBytes = maxBytes });

    private static Task AddAsync(Ext4ImageWriter writer, string path, string content) =>
        writer.AddFileAsync(path, File644, new MemoryStream(Encoding.UTF8.GetBytes(content)), Encoding.UTF8.GetByteCount(content));

    [Fact]
    public async Task Content_shorter_than_announced_is_refused_and_the_unfinished_image_is_deleted()
    {
        using var temp = new TempDirectory("ext4-unit-short");
        var writer = Create(temp);
        await using (writer)
        {
            var error = await Assert.ThrowsAsync<Ext4WriteException>(() => writer.AddFileAsync("short", File644, new MemoryStream(new byte[10]), 100));
            Assert.Contains("ended after 10 of 100 bytes", error.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(writer.Path));
        }

        Assert.False(File.Exists(writer.Path));
    }

    [Fact]
    public async Task Content_beyond_the_room_the_image_may_take_is_refused_as_it_arrives()
    {
        using var temp = new TempDirectory("ext4-unit-full");
        await using var writer = Create(temp, maxBytes: 1L << 20);

        var error = await Assert.ThrowsAsync<Ext4ImageFullException>(() => writer.AddFileAsync("big", File644, new MemoryStream(new byte[2 << 20]), 2 << 20));

        Assert.Equal(1L << 20, error.LimitBytes);
        Assert.True(error.NeededBytes > error.LimitBytes);
    }

    [Fact]
    public async Task Paths_through_files_links_to_nothing_or_directories_long_names_and_link_loops_are_refused()
    {
        using var temp = new TempDirectory("ext4-unit-paths");
        await using var writer = Create(temp);
        await AddAsync(writer, "file", "f");
        writer.AddDirectory("dir", File644);
        writer.AddSymbolicLink("loop-a", File644, "loop-b");
        writer.AddSymbolicLink("loop-b", File644, "loop-a");

        await Assert.ThrowsAsync<Ext4WriteException>(() => AddAsync(writer, "file/below", "x"));
        Assert.Throws<Ext4WriteException>(() => writer.AddHardLink("link", "missing"));
        Assert.Throws<Ext4WriteException>(() => writer.AddHardLink("link", "dir"));
        Assert.Throws<Ext4WriteException>(() => writer.AddDirectory(new string('n', 256), File644));
        await Assert.ThrowsAsync<Ext4WriteException>(() => AddAsync(writer, "loop-a/x", "x"));
        Assert.Throws<Ext4WriteException>(() => writer.Remove("/"));
        Assert.Throws<Ext4WriteException>(() => writer.AddDirectory("dir/..", File644));
    }

    [Fact]
    public async Task A_completed_image_has_the_ext4_superblock_label_uuid_and_counts_and_takes_no_more_entries()
    {
        using var temp = new TempDirectory("ext4-unit-super");
        var writer = Create(temp);
        Ext4ImageSummary summary;
        await using (writer)
        {
            writer.AddDirectory("etc", File644 with { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            await AddAsync(writer, "etc/hostname", "node\n");
            summary = await writer.CompleteAsync();
            await Assert.ThrowsAsync<InvalidOperationException>(() => AddAsync(writer, "late", "x"));
        }

        var bytes = await File.ReadAllBytesAsync(temp.Combine("image.img"));
        var superblock = bytes.AsSpan(1024, 1024);
        Assert.Equal(bytes.Length, summary.ImageBytes);
        Assert.Equal(0xEF53, BinaryPrimitives.ReadUInt16LittleEndian(superblock[0x38..]));
        Assert.Equal("UNIT", Encoding.UTF8.GetString(superblock.Slice(0x78, 16)).TrimEnd('\0'));
        Assert.Equal(Guid.Parse("0b7e1d3c-5a2f-4e6d-8c9b-1a2b3c4d5e6f"), new Guid(superblock.Slice(0x68, 16), bigEndian: true));
        Assert.Equal((uint)summary.Blocks, BinaryPrimitives.ReadUInt32LittleEndian(superblock[0x04..]));
        Assert.Equal((uint)summary.Inodes, BinaryPrimitives.ReadUInt32LittleEndian(superblock[0x00..]));
        Assert.Equal((uint)summary.FreeBlocks, BinaryPrimitives.ReadUInt32LittleEndian(superblock[0x0C..]));
        Assert.Equal((uint)summary.FreeInodes, BinaryPrimitives.ReadUInt32LittleEndian(superblock[0x10..]));
        // Inodes 1-10 reserved, the root (2), lost+found, etc and hostname in use.
        Assert.Equal(summary.Inodes - 13, summary.FreeInodes);
        Assert.Equal(5, summary.ContentBytes);
    }

    [Fact]
    public async Task A_file_is_read_back_before_completion_through_relative_and_absolute_links()
    {
        using var temp = new TempDirectory("ext4-unit-read");
        await using var writer = Create(temp);
        await AddAsync(writer, "etc/cos/grub.cfg", "menu");
        writer.AddSymbolicLink("etc/relative", File644, "cos/grub.cfg");
        writer.AddSymbolicLink("etc/absolute", File644, "/etc/relative");
        writer.AddSymbolicLink("etc/dangling", File644, "nowhere");

        Assert.Equal("menu"u8.ToArray(), writer.ReadFile("/etc/cos/grub.cfg"));
        Assert.Equal("menu"u8.ToArray(), writer.ReadFile("etc/relative"));
        Assert.Equal("menu"u8.ToArray(), writer.ReadFile("etc/absolute"));
        Assert.Null(writer.ReadFile("etc/dangling"));
        Assert.Null(writer.ReadFile("etc"));
        Assert.Null(writer.ReadFile("absent/file"));
    }

    [Theory]
    [InlineData(0L, 0u, 0u)]
    [InlineData(1_700_000_000L, 1_700_000_000u, 0u)]
    [InlineData(2_147_483_648L, 2_147_483_648u, 1u)]
    [InlineData(-1L, 0xFFFF_FFFFu, 0u)]
    public void Times_keep_the_epoch_bits_past_2038(long seconds, uint stored, uint epochBits)
    {
        var (low, extra) = Ext4Format.EncodeTime(DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(5));

        Assert.Equal(stored, low);
        Assert.Equal(epochBits, extra & 3);
        Assert.Equal(500u, extra >> 2);
    }

    [Fact]
    public void A_posix_acl_is_stored_in_ext4s_format_and_a_malformed_one_is_not()
    {
        // user::rwx, user:1000:r-x, other::--- as the kernel gives them (version 2, 8-byte entries).
        byte[] xattr = [2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 5, 0, 232, 3, 0, 0, 32, 0, 0, 0, 255, 255, 255, 255];

        var acl = Ext4PosixAcl.Encode("system.posix_acl_access", xattr);

        Assert.NotNull(acl);
        Assert.Equal(2, acl.Index);
        Assert.Empty(acl.Name);
        Assert.Equal([1, 0, 0, 0, 1, 0, 7, 0, 2, 0, 5, 0, 232, 3, 0, 0, 32, 0, 0, 0], acl.Value);
        Assert.Null(Ext4PosixAcl.Encode("system.posix_acl_access", [1, 0, 0, 0]));
        Assert.Null(Ext4PosixAcl.Encode("user.other", xattr));
    }

    [Fact]
    public void Attribute_names_take_the_kernels_indexes_and_hashes()
    {
        var attribute = Ext4Format.EncodeXattr("security.capability", [1, 0, 0, 2]);

        Assert.NotNull(attribute);
        Assert.Equal(6, attribute.Index);
        Assert.Equal("capability"u8.ToArray(), attribute.Name);
        Assert.Null(Ext4Format.EncodeXattr("unknown.prefix", [1]));
        Assert.Equal(0x61u, Ext4Format.XattrHash(new Ext4Format.Xattr(1, "a"u8.ToArray(), [])));
        Assert.Equal((0x61u << 16) ^ 0x0403_0201u, Ext4Format.XattrHash(new Ext4Format.Xattr(1, "a"u8.ToArray(), [1, 2, 3, 4])));
    }
}
