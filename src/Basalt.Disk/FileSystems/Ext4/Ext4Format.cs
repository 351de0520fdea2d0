using System.Buffers.Binary;
using System.Text;

namespace Basalt.Disk.FileSystems.Ext4;

/// <summary>
/// The on-disk ext4 structures <see cref="Ext4ImageWriter"/> writes, for the one geometry it uses: 4 KiB blocks,
/// 32768 blocks per group, 256-byte inodes, flex_bg with every bitmap and inode table placed after the data, no
/// backup superblocks (sparse_super2 with no backup groups), extents, no journal, no checksums, linear directories.
/// GRUB, the kernel and e2fsck all read this feature set.
/// </summary>
internal static class Ext4Format
{
    public const int BlockSize = 4096;
    public const int BlocksPerGroup = BlockSize * 8;
    public const int InodeSize = 256;
    public const int InodesPerBlock = BlockSize / InodeSize;
    public const int DescriptorSize = 32;
    public const int DescriptorsPerBlock = BlockSize / DescriptorSize;
    public const int ExtraInodeSize = 32;
    public const uint RootInode = 2;
    public const uint FirstInode = 11;
    public const int MaxExtentBlocks = 32768;
    public const int InodeExtents = 4;
    public const int LeafExtents = (BlockSize - 12) / 12;
    public const int MaxNameBytes = 255;
    public const int MaxDirectoryLinks = 65000;
    public const int GroupsPerFlexLog = 4;

    private const ushort SuperMagic = 0xEF53;
    private const ushort ExtentMagic = 0xF30A;
    private const uint XattrMagic = 0xEA020000;

    private const uint CompatExtAttr = 0x8;
    private const uint CompatSparseSuper2 = 0x200;
    private const uint IncompatFileType = 0x2;
    private const uint IncompatExtents = 0x40;
    private const uint IncompatFlexBg = 0x200;
    private const uint RoCompatSparseSuper = 0x1;
    private const uint RoCompatLargeFile = 0x2;
    private const uint RoCompatDirNlink = 0x20;
    private const uint RoCompatExtraIsize = 0x40;
    private const uint DefaultMountUserXattrAcl = 0x4 | 0x8;
    private const uint FlagsSignedHash = 0x1;

    public const uint InodeFlagExtents = 0x80000;

    /// <summary>The superblock's values that vary between images.</summary>
    public sealed record SuperblockFields(
        uint InodeCount,
        uint BlockCount,
        uint FreeBlocks,
        uint FreeInodes,
        uint InodesPerGroup,
        Guid Uuid,
        string Label,
        uint Timestamp);

    public static void WriteSuperblock(Span<byte> block, SuperblockFields fields)
    {
        block.Clear();
        var s = block.Slice(1024, 1024);
        U32(s, 0x00, fields.InodeCount);
        U32(s, 0x04, fields.BlockCount);
        U32(s, 0x0C, fields.FreeBlocks);
        U32(s, 0x10, fields.FreeInodes);
        U32(s, 0x14, 0); // first data block: 0 with 4 KiB blocks
        U32(s, 0x18, 2); // log2(block size) - 10
        U32(s, 0x1C, 2);
        U32(s, 0x20, BlocksPerGroup);
        U32(s, 0x24, BlocksPerGroup);
        U32(s, 0x28, fields.InodesPerGroup);
        U32(s, 0x30, fields.Timestamp); // write time
        U16(s, 0x36, 0xFFFF); // max mount count: -1, no forced checks
        U16(s, 0x38, SuperMagic);
        U16(s, 0x3A, 1); // clean
        U16(s, 0x3C, 1); // on errors: continue
        U32(s, 0x40, fields.Timestamp); // last check
        U32(s, 0x4C, 1); // dynamic revision
        U32(s, 0x54, FirstInode);
        U16(s, 0x58, InodeSize);
        U32(s, 0x5C, CompatExtAttr | CompatSparseSuper2);
        U32(s, 0x60, IncompatFileType | IncompatExtents | IncompatFlexBg);
        U32(s, 0x64, RoCompatSparseSuper | RoCompatLargeFile | RoCompatDirNlink | RoCompatExtraIsize);
        fields.Uuid.TryWriteBytes(s.Slice(0x68, 16), bigEndian: true, out _);
        var label = Encoding.UTF8.GetBytes(fields.Label);
        label.AsSpan(0, Math.Min(label.Length, 16)).CopyTo(s.Slice(0x78, 16));
        // The directory hash seed: only read for hashed directories, which this writer does not make; still set, as mke2fs does.
        fields.Uuid.TryWriteBytes(s.Slice(0xEC, 16), bigEndian: true, out _);
        s[0xFC] = 1; // half_md4
        U32(s, 0x100, DefaultMountUserXattrAcl);
        U32(s, 0x108, fields.Timestamp); // mkfs time
        U16(s, 0x15C, ExtraInodeSize);
        U16(s, 0x15E, ExtraInodeSize);
        U32(s, 0x160, FlagsSignedHash);
        s[0x174] = GroupsPerFlexLog;
        // s_backup_bgs (0x24C, 0x250) stay 0: with sparse_super2, no group but 0 holds a superblock.
    }

    public readonly record struct GroupDescriptor(uint BlockBitmap, uint InodeBitmap, uint InodeTable, ushort FreeBlocks, ushort FreeInodes, ushort Directories);

    public static void WriteGroupDescriptor(Span<byte> destination, GroupDescriptor descriptor)
    {
        destination[..DescriptorSize].Clear();
        U32(destination, 0x00, descriptor.BlockBitmap);
        U32(destination, 0x04, descriptor.InodeBitmap);
        U32(destination, 0x08, descriptor.InodeTable);
        U16(destination, 0x0C, descriptor.FreeBlocks);
        U16(destination, 0x0E, descriptor.FreeInodes);
        U16(destination, 0x10, descriptor.Directories);
    }

    /// <summary>Seconds since the epoch as ext4 stores them: the low 32 bits, and two epoch bits beside the nanoseconds.</summary>
    public static (uint Seconds, uint Extra) EncodeTime(DateTimeOffset time)
    {
        const long PerSecond = TimeSpan.TicksPerSecond;
        var ticks = time.UtcTicks - DateTime.UnixEpoch.Ticks;
        var floor = ticks >= 0 ? ticks / PerSecond : -((-ticks + PerSecond - 1) / PerSecond);
        var nanoseconds = (uint)((ticks - (floor * PerSecond)) * 100);
        var seconds = Math.Clamp(floor, -(1L << 31), (1L << 34) - (1L << 31) - 1);
        var epochBits = (uint)(((seconds - (int)seconds) >> 32) & 3);
        return ((uint)(int)seconds, (nanoseconds << 2) | epochBits);
    }

    public static ushort ModeBits(Ext4NodeKind kind, UnixFileMode mode)
    {
        var type = kind switch
        {
            Ext4NodeKind.Fifo => 0x1000,
            Ext4NodeKind.CharacterDevice => 0x2000,
            Ext4NodeKind.Directory => 0x4000,
            Ext4NodeKind.BlockDevice => 0x6000,
            Ext4NodeKind.RegularFile => 0x8000,
            Ext4NodeKind.SymbolicLink => 0xA000,
            Ext4NodeKind.Socket => 0xC000,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return (ushort)(type | ((int)mode & 0xFFF));
    }

    public static byte DirectoryFileType(Ext4NodeKind kind) => kind switch
    {
        Ext4NodeKind.RegularFile => 1,
        Ext4NodeKind.Directory => 2,
        Ext4NodeKind.CharacterDevice => 3,
        Ext4NodeKind.BlockDevice => 4,
        Ext4NodeKind.Fifo => 5,
        Ext4NodeKind.Socket => 6,
        Ext4NodeKind.SymbolicLink => 7,
        _ => 0,
    };

    /// <summary>An extent header followed by extents or index entries, as in <c>i_block</c> or an extent tree block.</summary>
    public static void WriteExtentHeader(Span<byte> destination, int entries, int max, int depth)
    {
        U16(destination, 0, ExtentMagic);
        U16(destination, 2, (ushort)entries);
        U16(destination, 4, (ushort)max);
        U16(destination, 6, (ushort)depth);
        U32(destination, 8, 0);
    }

    public static void WriteExtent(Span<byte> destination, uint logical, uint start, int length)
    {
        U32(destination, 0, logical);
        U16(destination, 4, (ushort)length);
        U16(destination, 6, 0);
        U32(destination, 8, start);
    }

    public static void WriteExtentIndex(Span<byte> destination, uint logical, uint leaf)
    {
        U32(destination, 0, logical);
        U32(destination, 4, leaf);
        U16(destination, 8, 0);
        U16(destination, 10, 0);
    }

    /// <summary>Bytes a directory entry for a name of <paramref name="nameBytes"/> takes (8-byte header, 4-byte aligned).</summary>
    public static int DirectoryEntrySize(int nameBytes) => (8 + nameBytes + 3) & ~3;

    public static void WriteDirectoryEntry(Span<byte> destination, uint inode, int recordLength, ReadOnlySpan<byte> name, byte fileType)
    {
        U32(destination, 0, inode);
        U16(destination, 4, (ushort)recordLength);
        destination[6] = (byte)name.Length;
        destination[7] = fileType;
        name.CopyTo(destination[8..]);
    }

    // Extended attributes: the kernel's name indexes, each a prefix stripped from the stored name.
    private static readonly (string Prefix, byte Index)[] XattrPrefixes =
    [
        ("user.", 1),
        ("trusted.", 4),
        ("security.", 6),
        ("system.", 7),
    ];

    /// <summary>One attribute in ext4's encoding: the name index and the name without its prefix.</summary>
    public sealed record Xattr(byte Index, byte[] Name, byte[] Value)
    {
        public int EntrySize => (16 + Name.Length + 3) & ~3;
        public int ValueSize => (Value.Length + 3) & ~3;
    }

    /// <summary>The encoding of <paramref name="name"/>; null when ext4 has no plain encoding for it (POSIX ACLs are stored in their own format).</summary>
    public static Xattr? EncodeXattr(string name, byte[] value)
    {
        if (name.StartsWith("system.posix_acl_", StringComparison.Ordinal))
        {
            return null;
        }

        foreach (var (prefix, index) in XattrPrefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length)
            {
                var stored = Encoding.UTF8.GetBytes(name[prefix.Length..]);
                return stored.Length > MaxNameBytes ? null : new Xattr(index, stored, value);
            }
        }

        return null;
    }

    /// <summary>Sorted as the kernel searches them: by index, then name length, then name.</summary>
    public static List<Xattr> SortXattrs(IEnumerable<Xattr> attributes) =>
        [.. attributes.OrderBy(a => a.Index).ThenBy(a => a.Name.Length).ThenBy(a => a.Name, ByteOrder.Instance)];

    /// <summary>Whether <paramref name="attributes"/> fit in the space after the inode's fixed fields.</summary>
    public static bool FitInInode(IReadOnlyList<Xattr> attributes) =>
        4 + attributes.Sum(a => a.EntrySize + a.ValueSize) + 4 <= InodeSize - 128 - ExtraInodeSize;

    public static bool FitInBlock(IReadOnlyList<Xattr> attributes) =>
        32 + attributes.Sum(a => a.EntrySize + a.ValueSize) + 4 <= BlockSize;

    /// <summary>Writes the in-inode attribute area (magic, entries, values; value offsets from the first entry).</summary>
    public static void WriteInodeXattrs(Span<byte> inode, IReadOnlyList<Xattr> attributes)
    {
        var area = inode[(128 + ExtraInodeSize)..];
        U32(area, 0, XattrMagic);
        WriteXattrEntries(area[4..], attributes);
    }

    /// <summary>Writes an attribute block with one reference.</summary>
    public static void WriteXattrBlock(Span<byte> block, IReadOnlyList<Xattr> attributes)
    {
        block.Clear();
        U32(block, 0, XattrMagic);
        U32(block, 4, 1);
        U32(block, 8, 1);
        var hashes = WriteXattrEntries(block, attributes, firstEntry: 32);
        uint blockHash = 0;
        foreach (var hash in hashes)
        {
            blockHash = (blockHash << 16) ^ (blockHash >> 16) ^ hash;
        }

        U32(block, 12, blockHash);
    }

    /// <summary>Entries from <paramref name="firstEntry"/>, values packed from the end; offsets relative to <paramref name="region"/>'s start.</summary>
    private static List<uint> WriteXattrEntries(Span<byte> region, IReadOnlyList<Xattr> attributes, int firstEntry = 0)
    {
        var hashes = new List<uint>(attributes.Count);
        var entry = firstEntry;
        var valueEnd = region.Length;
        foreach (var attribute in attributes)
        {
            valueEnd -= attribute.ValueSize;
            attribute.Value.CopyTo(region[valueEnd..]);
            var hash = XattrHash(attribute);
            region[entry] = (byte)attribute.Name.Length;
            region[entry + 1] = attribute.Index;
            U16(region, entry + 2, (ushort)valueEnd);
            U32(region, entry + 4, 0);
            U32(region, entry + 8, (uint)attribute.Value.Length);
            U32(region, entry + 12, hash);
            attribute.Name.CopyTo(region[(entry + 16)..]);
            hashes.Add(hash);
            entry += attribute.EntrySize;
        }

        U32(region, entry, 0);
        return hashes;
    }

    /// <summary>e2fsprogs' <c>ext2fs_ext_attr_hash_entry</c>: the name's bytes, then the value as little-endian words.</summary>
    public static uint XattrHash(Xattr attribute)
    {
        uint hash = 0;
        foreach (var b in attribute.Name)
        {
            hash = (hash << 5) ^ (hash >> 27) ^ (uint)(sbyte)b;
        }

        if (attribute.Value.Length > 0)
        {
            Span<byte> padded = stackalloc byte[attribute.ValueSize];
            padded.Clear();
            attribute.Value.CopyTo(padded);
            for (var i = 0; i < padded.Length; i += 4)
            {
                hash = (hash << 16) ^ (hash >> 16) ^ BinaryPrimitives.ReadUInt32LittleEndian(padded[i..]);
            }
        }

        return hash;
    }

    public static void U16(Span<byte> destination, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(destination[offset..], value);

    public static void U32(Span<byte> destination, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(destination[offset..], value);

    /// <summary>Plain byte order for names.</summary>
    public sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
