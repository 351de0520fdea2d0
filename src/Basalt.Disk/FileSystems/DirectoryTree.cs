using Basalt.Platform;

namespace Basalt.Disk.FileSystems;

/// <summary>
/// What a directory tree costs on a block filesystem: its apparent size, the bytes it takes once each
/// file, directory, long symlink and large xattr set is rounded to whole blocks, and the inodes it needs.
/// Hard links are counted once.
/// </summary>
public sealed record DirectoryTreeSize(
    long ApparentBytes,
    long BlockBytes,
    long Files,
    long Directories,
    long Symlinks,
    long OtherNodes)
{
    public long Inodes => Files + Directories + Symlinks + OtherNodes;
}

public static class DirectoryTree
{
    /// <summary>Symlink targets shorter than this live in the inode itself (ext4 "fast" symlinks).</summary>
    private const int FastSymlinkLimit = 60;

    /// <summary>Xattr bytes that fit in the spare space of a 256-byte ext4 inode; more spill into a block.</summary>
    private const int InInodeXattrBytes = 96;

    /// <summary>Bytes a directory entry takes beyond its name (ext4 dirent header, 4-byte aligned).</summary>
    private const int DirectoryEntryOverhead = 8;

    public static DirectoryTreeSize Measure(string root, int blockSize = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Directory.Exists(root))
        {
            throw new DiskSourceNotFoundException(root, "directory");
        }

        long apparent = 0, blocks = 0, files = 0, directories = 0, symlinks = 0, others = 0;
        var seenHardLinks = new HashSet<(ulong Device, ulong Inode)>();
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var directory = pending.Pop();
            directories++;
            long entryBytes = 2 * 12; // "." and ".."
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
            {
                var name = Path.GetFileName(entry);
                entryBytes += DirectoryEntryOverhead + ByteSize.AlignUp(System.Text.Encoding.UTF8.GetByteCount(name), 4);
                var status = Posix.GetStatus(entry);
                if (status.Kind == UnixFileKind.Directory)
                {
                    pending.Push(entry);
                    blocks += XattrBlocks(entry, blockSize);
                    continue;
                }

                if (status.LinkCount > 1 && status.Kind != UnixFileKind.Directory && !seenHardLinks.Add((status.Device, status.Inode)))
                {
                    continue;
                }

                switch (status.Kind)
                {
                    case UnixFileKind.Regular:
                        files++;
                        apparent += status.Size;
                        blocks += ByteSize.AlignUp(status.Size, blockSize);
                        break;
                    case UnixFileKind.SymbolicLink:
                        symlinks++;
                        apparent += status.Size;
                        blocks += status.Size >= FastSymlinkLimit ? blockSize : 0;
                        break;
                    default:
                        others++;
                        break;
                }

                blocks += XattrBlocks(entry, blockSize);
            }

            blocks += ByteSize.AlignUp(entryBytes, blockSize);
        }

        return new DirectoryTreeSize(apparent, blocks, files, directories, symlinks, others);
    }

    private static long XattrBlocks(string path, int blockSize)
    {
        var names = Posix.ListExtendedAttributes(path);
        if (names.Count == 0)
        {
            return 0;
        }

        var total = 0L;
        foreach (var name in names)
        {
            total += 16 + name.Length + (Posix.GetExtendedAttribute(path, name)?.Length ?? 0);
        }

        return total > InInodeXattrBytes ? blockSize : 0;
    }
}
