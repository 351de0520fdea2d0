using System.Text;
using Basalt.Platform;
using Microsoft.Win32.SafeHandles;

namespace Basalt.Disk.FileSystems.Ext4;

/// <summary>How <see cref="Ext4ImageWriter"/> shapes the image.</summary>
/// <param name="Label">Filesystem label (at most 16 bytes).</param>
/// <param name="Uuid">Filesystem UUID.</param>
public sealed record Ext4ImageWriterOptions(string Label, Guid Uuid)
{
    /// <summary>Superblock times and every inode's change time; null: the time the image is completed.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>The largest image this writer may make; content beyond it is refused as it arrives.</summary>
    public long MaxImageBytes { get; init; } = 1L << 40;

    /// <summary>Free space left in the image, as a share of the blocks its content takes.</summary>
    public int FreeSpacePercent { get; init; } = 10;

    /// <summary>Free inodes left in the image, as a share of the inodes its content takes.</summary>
    public int FreeInodesPercent { get; init; } = 25;
}

/// <summary>What a completed image holds.</summary>
public sealed record Ext4ImageSummary(long ImageBytes, long Blocks, long FreeBlocks, long Inodes, long FreeInodes, long ContentBytes);

/// <summary>
/// Writes an ext4 image file from entries given one at a time, in any order a tar stream gives them: file content goes
/// to its final blocks as it arrives, so an image is made in one pass over its sources, with no staging tree and no
/// second copy. Entries can be replaced or removed before <see cref="CompleteAsync"/> (as later image layers do); the
/// blocks of removed content are left free. Directories, inode tables and bitmaps are laid out when the image is
/// completed, after the content (flex_bg lets them live anywhere), and the image is sized to what it holds plus
/// <see cref="Ext4ImageWriterOptions.FreeSpacePercent"/>. The file is flushed before <see cref="CompleteAsync"/>
/// returns; a writer disposed before that deletes it.
/// </summary>
public sealed class Ext4ImageWriter : IAsyncDisposable, IDisposable
{
    private const int CopyBufferBytes = 1 << 20;
    private const UnixFileMode SymbolicLinkMode = (UnixFileMode)0x1FF;

    /// <summary>Content written since the last writeback started (see <see cref="Posix.StartWriteback"/>).</summary>
    private const long WritebackBytes = 32L << 20;

    private readonly string _path;
    private readonly Ext4ImageWriterOptions _options;
    private readonly SafeFileHandle _file;
    private readonly Ext4Node _root;
    private readonly uint _descriptorBlocksReserved;
    private readonly uint _dataStart;
    private readonly long _maxBlocks;
    private readonly DateTimeOffset _defaultTime;
    private byte[]? _buffer;
    private uint _nextBlock;
    private long _contentBytes;
    private long _writebackFrom;
    private bool _completed;
    private bool _disposed;

    private Ext4ImageWriter(string path, Ext4ImageWriterOptions options, SafeFileHandle file)
    {
        _path = path;
        _options = options;
        _file = file;
        _defaultTime = options.Timestamp ?? DateTimeOffset.UtcNow;
        _maxBlocks = Math.Min(options.MaxImageBytes / Ext4Format.BlockSize, uint.MaxValue - Ext4Format.BlocksPerGroup);
        var maxGroups = (_maxBlocks + Ext4Format.BlocksPerGroup - 1) / Ext4Format.BlocksPerGroup;
        _descriptorBlocksReserved = (uint)((maxGroups + Ext4Format.DescriptorsPerBlock - 1) / Ext4Format.DescriptorsPerBlock);
        _dataStart = 1 + _descriptorBlocksReserved;
        _nextBlock = _dataStart;
        _root = new Ext4Node(Ext4NodeKind.Directory, DefaultDirectory(), null) { Names = 1 };
        _root.Parent = _root;
    }

    /// <summary>Starts an image at <paramref name="path"/>, which must not exist.</summary>
    public static Ext4ImageWriter Create(string path, Ext4ImageWriterOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Label);
        if (Encoding.UTF8.GetByteCount(options.Label) > 16)
        {
            throw new ArgumentException($"ext4 label '{options.Label}' is longer than 16 bytes", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxImageBytes, 1L << 20);
        ArgumentOutOfRangeException.ThrowIfNegative(options.FreeSpacePercent);
        ArgumentOutOfRangeException.ThrowIfNegative(options.FreeInodesPercent);
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        return new Ext4ImageWriter(path, options, file);
    }

    /// <summary>
    /// Writes an image at a temporary sibling of <paramref name="target"/> with <paramref name="fill"/>, completes it,
    /// flushes it and renames it into place (then flushes the directory): <paramref name="target"/> is whole or absent.
    /// </summary>
    public static async Task<Ext4ImageSummary> BuildAtomicallyAsync(
        string target,
        Ext4ImageWriterOptions options,
        Func<Ext4ImageWriter, CancellationToken, Task> fill,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fill);
        Ext4ImageSummary? summary = null;
        await ToolSupport.BuildAtomicallyAsync(target, async temporary =>
        {
            await using var writer = Create(temporary, options);
            await fill(writer, cancellationToken).ConfigureAwait(false);
            summary = await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return summary!;
    }

    /// <summary>The image file.</summary>
    public string Path => _path;

    /// <summary>Bytes of content written so far (including content later removed).</summary>
    public long ContentBytes => _contentBytes;

    /// <summary>Creates a directory, or sets the metadata of the one there; anything else there is replaced.</summary>
    public void AddDirectory(string path, Ext4EntryMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(metadata);
        EnsureWritable();
        var parts = Ext4Paths.Split(path);
        if (parts.Count == 0)
        {
            _root.Metadata = metadata;
            _root.Xattrs = EncodeXattrs(path, metadata);
            return;
        }

        var (parent, name) = ParentOf(parts, path);
        if (parent.Children!.TryGetValue(name, out var existing) && existing.Kind == Ext4NodeKind.Directory)
        {
            existing.Metadata = metadata;
            existing.Xattrs = EncodeXattrs(path, metadata);
            return;
        }

        var node = new Ext4Node(Ext4NodeKind.Directory, metadata, parent) { Xattrs = EncodeXattrs(path, metadata) };
        Attach(parent, name, node, path);
    }

    /// <summary>Creates a regular file with <paramref name="length"/> bytes read from <paramref name="content"/>, replacing what is there.</summary>
    public async Task AddFileAsync(string path, Ext4EntryMetadata metadata, Stream content, long length, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        EnsureWritable();
        var parts = Ext4Paths.Split(path);
        var (parent, name) = ParentOf(parts, path);
        var node = new Ext4Node(Ext4NodeKind.RegularFile, metadata, null) { Size = length, Xattrs = EncodeXattrs(path, metadata) };
        var blocks = Allocate(BlocksFor(length), path);
        var offset = (long)blocks.Start * Ext4Format.BlockSize;
        _buffer ??= new byte[CopyBufferBytes];
        var left = length;
        while (left > 0)
        {
            var wanted = (int)Math.Min(_buffer.Length, left);
            var read = await content.ReadAtLeastAsync(_buffer.AsMemory(0, wanted), wanted, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < wanted)
            {
                throw new Ext4WriteException(_path, $"the content of '{path}' ended after {length - left + read} of {length} bytes");
            }

            // All-zero chunks stay holes in the image file: the blocks are the file's, and read back as zeros.
            if (_buffer.AsSpan(0, read).IndexOfAnyExcept((byte)0) >= 0)
            {
                await RandomAccess.WriteAsync(_file, _buffer.AsMemory(0, read), offset, cancellationToken).ConfigureAwait(false);
            }

            offset += read;
            left -= read;
        }

        _contentBytes += length;
        StartWriteback();
        AddRuns(node, blocks);
        Attach(parent, name, node, path);
    }

    /// <summary>Creates a symbolic link to <paramref name="target"/>, replacing what is there.</summary>
    public void AddSymbolicLink(string path, Ext4EntryMetadata metadata, string target)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentException.ThrowIfNullOrEmpty(target);
        EnsureWritable();
        var parts = Ext4Paths.Split(path);
        var (parent, name) = ParentOf(parts, path);
        var bytes = Encoding.UTF8.GetBytes(target);
        if (bytes.Length >= Ext4Format.BlockSize)
        {
            throw new Ext4WriteException(_path, $"the target of the symbolic link '{path}' is {bytes.Length} bytes; at most {Ext4Format.BlockSize - 1} fit");
        }

        // The kernel gives every symbolic link mode 0777 and never uses it; a layer's mode for one is ignored as it is on unpack.
        var node = new Ext4Node(Ext4NodeKind.SymbolicLink, metadata with { Mode = SymbolicLinkMode }, null) { Size = bytes.Length, Xattrs = EncodeXattrs(path, metadata) };
        if (bytes.Length < 60)
        {
            node.FastSymlinkTarget = bytes;
        }
        else
        {
            var block = Allocate(1, path);
            RandomAccess.Write(_file, bytes, (long)block.Start * Ext4Format.BlockSize);
            node.Data.Add(block);
        }

        Attach(parent, name, node, path);
    }

    /// <summary>Makes <paramref name="path"/> another name of the file at <paramref name="existingPath"/> (not a directory).</summary>
    public void AddHardLink(string path, string existingPath)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(existingPath);
        EnsureWritable();
        var targetParts = Ext4Paths.Split(existingPath);
        var existing = targetParts.Count == 0 ? _root : Find(targetParts);
        if (existing is null)
        {
            throw new Ext4WriteException(_path, $"the hard link '{path}' names '{existingPath}', which does not exist");
        }

        if (existing.Kind == Ext4NodeKind.Directory)
        {
            throw new Ext4WriteException(_path, $"the hard link '{path}' names the directory '{existingPath}'");
        }

        var (parent, name) = ParentOf(Ext4Paths.Split(path), path);
        if (parent.Children!.TryGetValue(name, out var current) && ReferenceEquals(current, existing))
        {
            return;
        }

        Attach(parent, name, existing, path);
    }

    /// <summary>Creates a device node, FIFO or socket, replacing what is there.</summary>
    public void AddSpecial(string path, Ext4NodeKind kind, Ext4EntryMetadata metadata, uint major = 0, uint minor = 0)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(metadata);
        if (kind is not (Ext4NodeKind.CharacterDevice or Ext4NodeKind.BlockDevice or Ext4NodeKind.Fifo or Ext4NodeKind.Socket))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "a device node, FIFO or socket");
        }

        EnsureWritable();
        var (parent, name) = ParentOf(Ext4Paths.Split(path), path);
        var node = new Ext4Node(kind, metadata, null) { DeviceMajor = major, DeviceMinor = minor, Xattrs = EncodeXattrs(path, metadata) };
        Attach(parent, name, node, path);
    }

    /// <summary>Removes the entry at <paramref name="path"/> (a directory with all below it); false when there is none.</summary>
    public bool Remove(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        EnsureWritable();
        var parts = Ext4Paths.Split(path);
        if (parts.Count == 0)
        {
            throw new Ext4WriteException(_path, "the root directory cannot be removed");
        }

        var parent = ResolveDirectory(parts.GetRange(0, parts.Count - 1), create: false, path);
        if (parent is null || !parent.Children!.Remove(parts[^1], out var node))
        {
            return false;
        }

        Release(node);
        return true;
    }

    /// <summary>The names in the directory at <paramref name="path"/> (symbolic links followed); null when there is none.</summary>
    public IReadOnlyList<string>? ListDirectory(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var directory = ResolveDirectory(Ext4Paths.Split(path), create: false, path);
        return directory is null ? null : [.. directory.Children!.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>What is at <paramref name="path"/> (a final symbolic link not followed); null when nothing is.</summary>
    public Ext4NodeKind? KindOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parts = Ext4Paths.Split(path);
        return parts.Count == 0 ? Ext4NodeKind.Directory : Find(parts)?.Kind;
    }

    /// <summary>The content of the regular file at <paramref name="path"/> (symbolic links followed); null when there is none.</summary>
    public byte[]? ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        EnsureWritable();
        var parts = Ext4Paths.Split(path);
        var node = parts.Count == 0 ? null : Find(parts);
        for (var hops = 0; node is { Kind: Ext4NodeKind.SymbolicLink } && hops < Ext4Paths.MaxSymlinkHops; hops++)
        {
            var target = ReadSymlink(node);
            var parent = ResolveDirectory(parts.GetRange(0, parts.Count - 1), create: false, path);
            parts = target.StartsWith('/') ? Ext4Paths.Split(target) : [.. parts.Take(parts.Count - 1), .. Ext4Paths.Split(target)];
            node = parent is null || parts.Count == 0 ? null : Find(parts);
        }

        if (node is not { Kind: Ext4NodeKind.RegularFile })
        {
            return null;
        }

        var content = new byte[node.Size];
        var offset = 0;
        foreach (var run in node.Data)
        {
            var length = (int)Math.Min((long)run.Count * Ext4Format.BlockSize, content.Length - offset);
            RandomAccess.Read(_file, content.AsSpan(offset, length), (long)run.Start * Ext4Format.BlockSize);
            offset += length;
        }

        return content;
    }

    /// <summary>Lays out directories, inodes and bitmaps after the content, writes them, sizes and flushes the file.</summary>
    public async Task<Ext4ImageSummary> CompleteAsync(CancellationToken cancellationToken = default)
    {
        EnsureWritable();
        var time = _options.Timestamp ?? DateTimeOffset.UtcNow;
        if (!_root.Children!.TryGetValue("lost+found", out var lostFound))
        {
            var metadata = new Ext4EntryMetadata(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, 0, 0, time);
            lostFound = new Ext4Node(Ext4NodeKind.Directory, metadata, _root);
            Attach(_root, "lost+found", lostFound, "lost+found");
        }

        var layout = new Ext4Layout(this, time);
        var nodes = layout.Number(_root, lostFound);
        cancellationToken.ThrowIfCancellationRequested();
        var writes = new List<(long Offset, byte[] Data)>();
        foreach (var node in nodes)
        {
            if (node.Kind == Ext4NodeKind.Directory)
            {
                var blocks = layout.DirectoryBlocks(node);
                var run = Allocate((uint)(blocks.Length / Ext4Format.BlockSize), node == _root ? "/" : "a directory");
                node.Data.Clear();
                node.Data.Add(run);
                node.Size = blocks.Length;
                writes.Add(((long)run.Start * Ext4Format.BlockSize, blocks));
            }

            if (node.Xattrs.Count > 0 && !Ext4Format.FitInInode(node.Xattrs))
            {
                var block = new byte[Ext4Format.BlockSize];
                Ext4Format.WriteXattrBlock(block, node.Xattrs);
                node.XattrBlock = Allocate(1, "extended attributes").Start;
                writes.Add(((long)node.XattrBlock * Ext4Format.BlockSize, block));
            }

            var extents = Extents(node);
            if (extents.Count > Ext4Format.InodeExtents)
            {
                var leaves = (extents.Count + Ext4Format.LeafExtents - 1) / Ext4Format.LeafExtents;
                if (leaves > Ext4Format.InodeExtents)
                {
                    throw new Ext4WriteException(_path, $"a file of {node.Size} bytes needs more extent blocks than this writer makes");
                }

                for (var leaf = 0; leaf < leaves; leaf++)
                {
                    var chunk = extents.Skip(leaf * Ext4Format.LeafExtents).Take(Ext4Format.LeafExtents).ToList();
                    var block = new byte[Ext4Format.BlockSize];
                    Ext4Format.WriteExtentHeader(block, chunk.Count, Ext4Format.LeafExtents, 0);
                    for (var i = 0; i < chunk.Count; i++)
                    {
                        Ext4Format.WriteExtent(block.AsSpan(12 + (i * 12)), chunk[i].Logical, chunk[i].Start, chunk[i].Length);
                    }

                    var at = Allocate(1, "extent tree").Start;
                    node.ExtentLeaves.Add(at);
                    writes.Add(((long)at * Ext4Format.BlockSize, block));
                }
            }
        }

        foreach (var (offset, data) in writes)
        {
            await RandomAccess.WriteAsync(_file, data, offset, cancellationToken).ConfigureAwait(false);
        }

        var summary = await layout.WriteMetadataAsync(_file, nodes, _nextBlock, cancellationToken).ConfigureAwait(false);
        RandomAccess.FlushToDisk(_file);
        _completed = true;
        return summary with { ContentBytes = _contentBytes };
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _file.Dispose();
        if (!_completed)
        {
            File.Delete(_path);
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    internal uint DataStart => _dataStart;

    internal uint DescriptorBlocksReserved => _descriptorBlocksReserved;

    internal long MaxBlocks => _maxBlocks;

    internal Ext4ImageWriterOptions Options => _options;

    /// <summary>The extents of <paramref name="node"/>'s data, each at most 32768 blocks.</summary>
    internal static List<(uint Logical, uint Start, int Length)> Extents(Ext4Node node)
    {
        var extents = new List<(uint, uint, int)>();
        uint logical = 0;
        foreach (var run in node.Data)
        {
            for (uint done = 0; done < run.Count;)
            {
                var length = (int)Math.Min(Ext4Format.MaxExtentBlocks, run.Count - done);
                extents.Add((logical, run.Start + done, length));
                logical += (uint)length;
                done += (uint)length;
            }
        }

        return extents;
    }

    /// <summary>Every 32 MiB of content, its writeback starts, so the closing flush does not write the whole image at once.</summary>
    private void StartWriteback()
    {
        var written = (long)_nextBlock * Ext4Format.BlockSize;
        if (written - _writebackFrom >= WritebackBytes)
        {
            Posix.StartWriteback(_file, _writebackFrom, written - _writebackFrom);
            _writebackFrom = written;
        }
    }

    private static uint BlocksFor(long bytes) => (uint)((bytes + Ext4Format.BlockSize - 1) / Ext4Format.BlockSize);

    private BlockRun Allocate(uint blocks, string path)
    {
        if (_nextBlock + (long)blocks > _maxBlocks)
        {
            throw new Ext4ImageFullException(_path, (_nextBlock + (long)blocks) * Ext4Format.BlockSize, _options.MaxImageBytes);
        }

        var run = new BlockRun(_nextBlock, blocks);
        _nextBlock += blocks;
        return run;
    }

    private static void AddRuns(Ext4Node node, BlockRun run)
    {
        if (run.Count > 0)
        {
            node.Data.Add(run);
        }
    }

    private void EnsureWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("the image is complete");
        }
    }

    private Ext4EntryMetadata DefaultDirectory() => new(
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
        0,
        0,
        _defaultTime);

    private List<Ext4Format.Xattr> EncodeXattrs(string path, Ext4EntryMetadata metadata)
    {
        if (metadata.ExtendedAttributes.Count == 0)
        {
            return [];
        }

        var encoded = new List<Ext4Format.Xattr>(metadata.ExtendedAttributes.Count);
        foreach (var (name, value) in metadata.ExtendedAttributes)
        {
            var attribute = Ext4PosixAcl.Encode(name, value) ?? Ext4Format.EncodeXattr(name, value)
                ?? throw new Ext4WriteException(_path, $"the extended attribute '{name}' of '{path}' has no ext4 encoding");
            encoded.Add(attribute);
        }

        var sorted = Ext4Format.SortXattrs(encoded);
        if (!Ext4Format.FitInBlock(sorted))
        {
            throw new Ext4WriteException(_path, $"the extended attributes of '{path}' take more than one {Ext4Format.BlockSize}-byte block");
        }

        return sorted;
    }

    private (Ext4Node Parent, string Name) ParentOf(List<string> parts, string path)
    {
        if (parts.Count == 0)
        {
            throw new Ext4WriteException(_path, $"'{path}' names the root directory");
        }

        var name = parts[^1];
        if (name == "..")
        {
            throw new Ext4WriteException(_path, $"'{path}' ends in '..'");
        }

        Ext4Paths.EncodeName(name, path, _path);
        var parent = ResolveDirectory(parts.GetRange(0, parts.Count - 1), create: true, path)!;
        return (parent, name);
    }

    /// <summary>The node a path names, its parents resolved through symbolic links and its last component not.</summary>
    private Ext4Node? Find(List<string> parts)
    {
        var parent = ResolveDirectory(parts.GetRange(0, parts.Count - 1), create: false, string.Join('/', parts));
        if (parent is null)
        {
            return null;
        }

        return parts[^1] == ".." ? parent.Parent : parent.Children!.GetValueOrDefault(parts[^1]);
    }

    private Ext4Node? ResolveDirectory(List<string> parts, bool create, string path)
    {
        var hops = 0;
        return ResolveFrom(_root, parts, create, path, ref hops);
    }

    private Ext4Node? ResolveFrom(Ext4Node start, List<string> parts, bool create, string path, ref int hops)
    {
        var current = start;
        foreach (var part in parts)
        {
            if (part == "..")
            {
                current = current.Parent!;
                continue;
            }

            if (!current.Children!.TryGetValue(part, out var child))
            {
                if (!create)
                {
                    return null;
                }

                Ext4Paths.EncodeName(part, path, _path);
                child = new Ext4Node(Ext4NodeKind.Directory, DefaultDirectory(), current);
                Attach(current, part, child, path);
            }

            if (child.Kind == Ext4NodeKind.SymbolicLink)
            {
                if (++hops > Ext4Paths.MaxSymlinkHops)
                {
                    throw new Ext4WriteException(_path, $"'{path}' goes through more than {Ext4Paths.MaxSymlinkHops} symbolic links");
                }

                var target = ReadSymlink(child);
                child = ResolveFrom(target.StartsWith('/') ? _root : current, Ext4Paths.Split(target), create, path, ref hops);
                if (child is null)
                {
                    return null;
                }
            }

            if (child.Kind != Ext4NodeKind.Directory)
            {
                throw new Ext4WriteException(_path, $"'{path}' passes through '{part}', which is not a directory");
            }

            current = child;
        }

        return current;
    }

    private string ReadSymlink(Ext4Node link)
    {
        if (link.FastSymlinkTarget is { } inline)
        {
            return Encoding.UTF8.GetString(inline);
        }

        var bytes = new byte[link.Size];
        RandomAccess.Read(_file, bytes, (long)link.Data[0].Start * Ext4Format.BlockSize);
        return Encoding.UTF8.GetString(bytes);
    }

    private void Attach(Ext4Node parent, string name, Ext4Node node, string path)
    {
        if (parent.Children!.Remove(name, out var replaced))
        {
            Release(replaced);
        }

        if (node.Kind == Ext4NodeKind.Directory)
        {
            // A directory moved under itself would be cut off from the root.
            for (var ancestor = parent; ; ancestor = ancestor.Parent!)
            {
                if (ReferenceEquals(ancestor, node))
                {
                    throw new Ext4WriteException(_path, $"'{path}' would put a directory inside itself");
                }

                if (ReferenceEquals(ancestor, _root))
                {
                    break;
                }
            }

            node.Parent = parent;
        }

        parent.Children[name] = node;
        node.Names++;
    }

    private static void Release(Ext4Node node)
    {
        node.Names--;
        if (node.Names == 0 && node.Children is { } children)
        {
            foreach (var child in children.Values)
            {
                Release(child);
            }

            children.Clear();
        }
    }
}
