using System.Numerics;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Basalt.Disk.FileSystems.Ext4;

/// <summary>
/// The part of <see cref="Ext4ImageWriter"/> that runs when the image is completed: inode numbers, directory blocks,
/// the geometry (groups, inodes per group) fitted to what the image holds, bitmaps, inode tables, descriptors and the
/// superblock.
/// </summary>
internal sealed class Ext4Layout
{
    private readonly Ext4ImageWriter _writer;
    private readonly DateTimeOffset _time;

    public Ext4Layout(Ext4ImageWriter writer, DateTimeOffset time)
    {
        _writer = writer;
        _time = time;
    }

    /// <summary>Numbers every node once (hard links share one): the root 2, lost+found 11, then breadth first by name.</summary>
    public List<Ext4Node> Number(Ext4Node root, Ext4Node lostFound)
    {
        var seen = new HashSet<Ext4Node>(ReferenceEqualityComparer.Instance) { root, lostFound };
        root.Number = Ext4Format.RootInode;
        lostFound.Number = Ext4Format.FirstInode;
        var nodes = new List<Ext4Node> { root, lostFound };
        var next = Ext4Format.FirstInode + 1;
        var directories = new Queue<Ext4Node>([root, lostFound]);
        while (directories.TryDequeue(out var directory))
        {
            foreach (var (_, child) in directory.Children!.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                if (!seen.Add(child))
                {
                    continue;
                }

                child.Number = next++;
                nodes.Add(child);
                if (child.Kind == Ext4NodeKind.Directory)
                {
                    directories.Enqueue(child);
                }
            }
        }

        return nodes;
    }

    /// <summary>The directory's entries ("." and ".." first, then by name), packed into whole blocks.</summary>
    public byte[] DirectoryBlocks(Ext4Node directory)
    {
        var entries = new List<(uint Inode, byte[] Name, byte Type)>
        {
            (directory.Number, "."u8.ToArray(), Ext4Format.DirectoryFileType(Ext4NodeKind.Directory)),
            (directory.Parent!.Number, ".."u8.ToArray(), Ext4Format.DirectoryFileType(Ext4NodeKind.Directory)),
        };
        entries.AddRange(directory.Children!
            .OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => (c.Value.Number, Encoding.UTF8.GetBytes(c.Key), Ext4Format.DirectoryFileType(c.Value.Kind))));

        var output = new MemoryStream();
        var block = new byte[Ext4Format.BlockSize];
        var used = 0;
        var last = -1;
        foreach (var (inode, name, type) in entries)
        {
            var size = Ext4Format.DirectoryEntrySize(name.Length);
            if (used + size > Ext4Format.BlockSize)
            {
                Ext4Format.U16(block, last + 4, (ushort)(Ext4Format.BlockSize - last));
                output.Write(block);
                Array.Clear(block);
                used = 0;
            }

            Ext4Format.WriteDirectoryEntry(block.AsSpan(used), inode, size, name, type);
            last = used;
            used += size;
        }

        Ext4Format.U16(block, last + 4, (ushort)(Ext4Format.BlockSize - last));
        output.Write(block);
        return output.ToArray();
    }

    /// <summary>Fits the geometry to the content ending before <paramref name="usedBlocks"/>, then writes the metadata.</summary>
    public async Task<Ext4ImageSummary> WriteMetadataAsync(SafeFileHandle file, List<Ext4Node> nodes, uint usedBlocks, CancellationToken cancellationToken)
    {
        var options = _writer.Options;
        var lastInode = nodes.Max(n => n.Number);
        var inodesWanted = lastInode + (lastInode * (long)options.FreeInodesPercent / 100) + 16;
        var headroom = (usedBlocks - _writer.DataStart) * (long)options.FreeSpacePercent / 100;
        var (groups, inodesPerGroup, totalBlocks) = FitGeometry(usedBlocks, inodesWanted, headroom);
        var descriptorBlocks = Ceiling(groups, Ext4Format.DescriptorsPerBlock);
        if (descriptorBlocks > _writer.DescriptorBlocksReserved || totalBlocks > _writer.MaxBlocks)
        {
            throw new Ext4ImageFullException(_writer.Path, totalBlocks * Ext4Format.BlockSize, options.MaxImageBytes);
        }

        var tableBlocks = inodesPerGroup / Ext4Format.InodesPerBlock;
        long BlockBitmap(long group) => usedBlocks + group;
        long InodeBitmap(long group) => usedBlocks + groups + group;
        long InodeTable(long group) => usedBlocks + (2 * groups) + (group * tableBlocks);
        var metadataEnd = InodeTable(groups);

        var blockBits = new byte[groups * Ext4Format.BlockSize];
        Mark(blockBits, 0, 1 + descriptorBlocks);
        foreach (var node in nodes)
        {
            foreach (var run in node.Data)
            {
                Mark(blockBits, run.Start, run.Count);
            }

            foreach (var leaf in node.ExtentLeaves)
            {
                Mark(blockBits, leaf, 1);
            }

            if (node.XattrBlock != 0)
            {
                Mark(blockBits, node.XattrBlock, 1);
            }
        }

        Mark(blockBits, usedBlocks, metadataEnd - usedBlocks);
        Mark(blockBits, totalBlocks, (groups * Ext4Format.BlocksPerGroup) - totalBlocks); // past the end: padding, set

        var inodeBits = new byte[groups * Ext4Format.BlockSize];
        var directories = new int[groups];
        for (var group = 0L; group < groups; group++)
        {
            // Bits past the group's inodes are padding, set.
            Mark(inodeBits, (group * Ext4Format.BlocksPerGroup) + inodesPerGroup, Ext4Format.BlocksPerGroup - inodesPerGroup);
        }

        Mark(inodeBits, 0, Ext4Format.FirstInode - 1);
        foreach (var node in nodes)
        {
            var index = node.Number - 1;
            var group = index / inodesPerGroup;
            Mark(inodeBits, (group * Ext4Format.BlocksPerGroup) + (index % inodesPerGroup), 1);
            if (node.Kind == Ext4NodeKind.Directory)
            {
                directories[group]++;
            }
        }

        var descriptors = new byte[descriptorBlocks * Ext4Format.BlockSize];
        long freeBlocks = 0;
        long freeInodes = 0;
        for (var group = 0L; group < groups; group++)
        {
            var blocksInGroup = Math.Min(Ext4Format.BlocksPerGroup, totalBlocks - (group * Ext4Format.BlocksPerGroup));
            var groupFreeBlocks = blocksInGroup - (Ones(blockBits, group) - (Ext4Format.BlocksPerGroup - blocksInGroup));
            var groupFreeInodes = inodesPerGroup - (Ones(inodeBits, group) - (Ext4Format.BlocksPerGroup - inodesPerGroup));
            freeBlocks += groupFreeBlocks;
            freeInodes += groupFreeInodes;
            Ext4Format.WriteGroupDescriptor(
                descriptors.AsSpan((int)(group * Ext4Format.DescriptorSize)),
                new Ext4Format.GroupDescriptor((uint)BlockBitmap(group), (uint)InodeBitmap(group), (uint)InodeTable(group), (ushort)groupFreeBlocks, (ushort)groupFreeInodes, (ushort)directories[group]));
        }

        await RandomAccess.WriteAsync(file, blockBits, BlockBitmap(0) * Ext4Format.BlockSize, cancellationToken).ConfigureAwait(false);
        await RandomAccess.WriteAsync(file, inodeBits, InodeBitmap(0) * Ext4Format.BlockSize, cancellationToken).ConfigureAwait(false);

        var (ctime, ctimeExtra) = Ext4Format.EncodeTime(_time);
        foreach (var group in nodes.GroupBy(n => (n.Number - 1) / inodesPerGroup))
        {
            var table = new byte[tableBlocks * Ext4Format.BlockSize];
            foreach (var node in group)
            {
                WriteInode(table.AsSpan((int)((node.Number - 1) % inodesPerGroup * Ext4Format.InodeSize), Ext4Format.InodeSize), node, ctime, ctimeExtra);
            }

            await RandomAccess.WriteAsync(file, table, InodeTable(group.Key) * Ext4Format.BlockSize, cancellationToken).ConfigureAwait(false);
        }

        await RandomAccess.WriteAsync(file, descriptors, Ext4Format.BlockSize, cancellationToken).ConfigureAwait(false);
        var superblock = new byte[Ext4Format.BlockSize];
        Ext4Format.WriteSuperblock(superblock, new Ext4Format.SuperblockFields(
            (uint)(groups * inodesPerGroup), (uint)totalBlocks, (uint)freeBlocks, (uint)freeInodes, (uint)inodesPerGroup, options.Uuid, options.Label, ctime));
        await RandomAccess.WriteAsync(file, superblock, 0, cancellationToken).ConfigureAwait(false);
        RandomAccess.SetLength(file, totalBlocks * Ext4Format.BlockSize);
        return new Ext4ImageSummary(totalBlocks * Ext4Format.BlockSize, totalBlocks, freeBlocks, groups * inodesPerGroup, freeInodes, 0);
    }

    /// <summary>Groups, inodes per group (a multiple of 16, at most one per bit of a bitmap block) and blocks, at a fixed point.</summary>
    private static (long Groups, long InodesPerGroup, long Blocks) FitGeometry(uint usedBlocks, long inodesWanted, long headroom)
    {
        var groups = Math.Max(1, Ceiling(usedBlocks, Ext4Format.BlocksPerGroup));
        for (var round = 0; round < 64; round++)
        {
            groups = Math.Max(groups, Ceiling(inodesWanted, Ext4Format.BlocksPerGroup));
            var inodesPerGroup = RoundUp(Ceiling(inodesWanted, groups), 16);
            var metadata = groups * (2 + (inodesPerGroup / Ext4Format.InodesPerBlock));
            // Every group holds blocks: groups the inodes call for beyond the content's get a share of the free space.
            var blocks = Math.Max(RoundUp(usedBlocks + metadata + headroom, 256), ((groups - 1) * Ext4Format.BlocksPerGroup) + 256);
            var fitted = Ceiling(blocks, Ext4Format.BlocksPerGroup);
            if (fitted == groups)
            {
                return (groups, inodesPerGroup, blocks);
            }

            groups = fitted;
        }

        throw new InvalidOperationException("the ext4 geometry did not settle");
    }

    private void WriteInode(Span<byte> inode, Ext4Node node, uint ctime, uint ctimeExtra)
    {
        var metadata = node.Metadata;
        var (mtime, mtimeExtra) = Ext4Format.EncodeTime(metadata.ModifiedTime);
        var (atime, atimeExtra) = Ext4Format.EncodeTime(metadata.AccessTime ?? metadata.ModifiedTime);
        var links = node.Kind == Ext4NodeKind.Directory ? 2 + node.Children!.Values.Count(c => c.Kind == Ext4NodeKind.Directory) : node.Names;
        if (links > Ext4Format.MaxDirectoryLinks)
        {
            // dir_nlink: a directory with more subdirectories than a link count holds says 1.
            links = node.Kind == Ext4NodeKind.Directory ? 1 : throw new Ext4WriteException(_writer.Path, $"a file has {links} names, more than ext4 counts");
        }

        var sectors = (node.DataBlocks + node.ExtentLeaves.Count + (node.XattrBlock != 0 ? 1 : 0)) * (Ext4Format.BlockSize / 512);
        if (sectors > uint.MaxValue)
        {
            throw new Ext4WriteException(_writer.Path, $"a file of {node.Size} bytes is larger than this writer makes (2 TiB)");
        }

        Ext4Format.U16(inode, 0x00, Ext4Format.ModeBits(node.Kind, metadata.Mode));
        Ext4Format.U16(inode, 0x02, (ushort)metadata.UserId);
        Ext4Format.U32(inode, 0x04, (uint)node.Size);
        Ext4Format.U32(inode, 0x08, atime);
        Ext4Format.U32(inode, 0x0C, ctime);
        Ext4Format.U32(inode, 0x10, mtime);
        Ext4Format.U16(inode, 0x18, (ushort)metadata.GroupId);
        Ext4Format.U16(inode, 0x1A, (ushort)links);
        Ext4Format.U32(inode, 0x1C, (uint)sectors);
        Ext4Format.U32(inode, 0x68, node.XattrBlock);
        Ext4Format.U32(inode, 0x6C, (uint)(node.Size >> 32));
        Ext4Format.U16(inode, 0x78, (ushort)(metadata.UserId >> 16));
        Ext4Format.U16(inode, 0x7A, (ushort)(metadata.GroupId >> 16));
        Ext4Format.U16(inode, 0x80, Ext4Format.ExtraInodeSize);
        Ext4Format.U32(inode, 0x84, ctimeExtra);
        Ext4Format.U32(inode, 0x88, mtimeExtra);
        Ext4Format.U32(inode, 0x8C, atimeExtra);
        Ext4Format.U32(inode, 0x90, ctime);
        Ext4Format.U32(inode, 0x94, ctimeExtra);

        var blockArea = inode.Slice(0x28, 60);
        switch (node.Kind)
        {
            case Ext4NodeKind.SymbolicLink when node.FastSymlinkTarget is { } target:
                target.CopyTo(blockArea);
                break;
            case Ext4NodeKind.CharacterDevice or Ext4NodeKind.BlockDevice:
                if (node.DeviceMajor < 256 && node.DeviceMinor < 256)
                {
                    Ext4Format.U32(blockArea, 0, (node.DeviceMajor << 8) | node.DeviceMinor);
                }
                else
                {
                    Ext4Format.U32(blockArea, 4, (node.DeviceMinor & 0xFF) | (node.DeviceMajor << 8) | ((node.DeviceMinor & ~0xFFu) << 12));
                }

                break;
            case Ext4NodeKind.Fifo or Ext4NodeKind.Socket:
                break;
            default:
                Ext4Format.U32(inode, 0x20, Ext4Format.InodeFlagExtents);
                WriteExtentRoot(blockArea, node);
                break;
        }

        if (node.Xattrs.Count > 0 && node.XattrBlock == 0)
        {
            Ext4Format.WriteInodeXattrs(inode, node.Xattrs);
        }
    }

    private static void WriteExtentRoot(Span<byte> blockArea, Ext4Node node)
    {
        var extents = Ext4ImageWriter.Extents(node);
        if (node.ExtentLeaves.Count == 0)
        {
            Ext4Format.WriteExtentHeader(blockArea, extents.Count, Ext4Format.InodeExtents, 0);
            for (var i = 0; i < extents.Count; i++)
            {
                Ext4Format.WriteExtent(blockArea[(12 + (i * 12))..], extents[i].Logical, extents[i].Start, extents[i].Length);
            }

            return;
        }

        Ext4Format.WriteExtentHeader(blockArea, node.ExtentLeaves.Count, Ext4Format.InodeExtents, 1);
        for (var i = 0; i < node.ExtentLeaves.Count; i++)
        {
            Ext4Format.WriteExtentIndex(blockArea[(12 + (i * 12))..], extents[i * Ext4Format.LeafExtents].Logical, node.ExtentLeaves[i]);
        }
    }

    private static void Mark(byte[] bits, long start, long count)
    {
        for (var bit = start; bit < start + count; bit++)
        {
            bits[bit >> 3] |= (byte)(1 << (int)(bit & 7));
        }
    }

    private static long Ones(byte[] bits, long group)
    {
        var block = bits.AsSpan((int)(group * Ext4Format.BlockSize), Ext4Format.BlockSize);
        long ones = 0;
        for (var i = 0; i < block.Length; i += 8)
        {
            ones += BitOperations.PopCount(BitConverter.ToUInt64(block[i..]));
        }

        return ones;
    }

    private static long Ceiling(long value, long divisor) => (value + divisor - 1) / divisor;

    private static long RoundUp(long value, long multiple) => Ceiling(value, multiple) * multiple;
}
