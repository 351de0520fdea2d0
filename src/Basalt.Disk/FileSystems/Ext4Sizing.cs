namespace Basalt.Disk.FileSystems;

/// <summary>An ext4 image size and inode count that hold a given payload.</summary>
public sealed record Ext4SizeEstimate(long ImageBytes, long InodeCount);

/// <summary>
/// ext4 capacity arithmetic for images made with <c>mkfs.ext4 -T default</c>: 4 KiB blocks,
/// 256-byte inodes, one inode per 16 KiB unless an inode count is given, mke2fs's default journal,
/// the reserved-blocks percentage, and per-group bitmaps and descriptors.
/// </summary>
public static class Ext4Sizing
{
    public const int BlockSize = 4096;
    public const int InodeSize = 256;
    public const int BytesPerInode = 16384;
    public const int DefaultReservedPercent = 5;

    /// <summary>Superblocks, descriptors, reserved GDT blocks, root and lost+found: a fixed allowance.</summary>
    private const long FixedOverheadBytes = 8 * ByteSize.MiB;

    /// <summary>The journal mke2fs 1.47 chooses for a filesystem of <paramref name="fileSystemBytes"/>.</summary>
    public static long JournalBytes(long fileSystemBytes)
    {
        var blocks = fileSystemBytes / BlockSize;
        long journalBlocks = blocks switch
        {
            < 2048 => 0,
            < 32768 => 1024,
            < 256 * 1024 => 4096,
            < 512 * 1024 => 8192,
            < 4096 * 1024 => 16384,
            < 8192 * 1024 => 32768,
            < 16384 * 1024 => 65536,
            < 32768 * 1024 => 131072,
            _ => 262144,
        };
        return journalBlocks * BlockSize;
    }

    /// <summary>
    /// The smallest filesystem size (a multiple of 1 MiB) whose free space holds <paramref name="payloadBytes"/>
    /// of block-rounded data. <paramref name="inodeCount"/> 0 means mke2fs's default ratio.
    /// </summary>
    public static long CapacityFor(long payloadBytes, long inodeCount = 0, int reservedPercent = DefaultReservedPercent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(inodeCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(reservedPercent, 50);

        // Bitmaps: two blocks per 32768-block group; extents and indirect blocks for large files: ~0.2%.
        var proportional = (reservedPercent / 100.0) + (2.0 / 32768) + 0.002 + (inodeCount == 0 ? (double)InodeSize / BytesPerInode : 0);
        var fixedBytes = FixedOverheadBytes + (inodeCount * InodeSize);
        var size = payloadBytes + fixedBytes;
        for (var round = 0; round < 8; round++)
        {
            var next = ByteSize.AlignUp((long)Math.Ceiling((payloadBytes + fixedBytes + JournalBytes(size)) / (1 - proportional)), ByteSize.MiB);
            if (next == size)
            {
                break;
            }

            size = next;
        }

        return size;
    }

    /// <summary>
    /// Size and inode count for an image holding <paramref name="tree"/>, with <paramref name="headroomPercent"/>
    /// extra room for the data and a quarter more inodes than files.
    /// </summary>
    public static Ext4SizeEstimate ForTree(DirectoryTreeSize tree, int headroomPercent = 10, int reservedPercent = 0)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentOutOfRangeException.ThrowIfNegative(headroomPercent);
        var inodes = tree.Inodes + (tree.Inodes / 4) + 64;
        var payload = tree.BlockBytes + (tree.BlockBytes * headroomPercent / 100);
        return new Ext4SizeEstimate(CapacityFor(payload, inodes, reservedPercent), inodes);
    }
}
