using System.Text;

namespace Basalt.Disk.FileSystems.Ext4;

/// <summary>The kinds of entry an ext4 image holds.</summary>
public enum Ext4NodeKind
{
    RegularFile,
    Directory,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// <summary>Owner, permission bits (with setuid, setgid, sticky), times and extended attributes of one entry.</summary>
public sealed record Ext4EntryMetadata(UnixFileMode Mode, int UserId, int GroupId, DateTimeOffset ModifiedTime)
{
    /// <summary>Null: the modification time.</summary>
    public DateTimeOffset? AccessTime { get; init; }

    public IReadOnlyDictionary<string, byte[]> ExtendedAttributes { get; init; } = new Dictionary<string, byte[]>(StringComparer.Ordinal);
}

/// <summary>A run of consecutive blocks.</summary>
internal readonly record struct BlockRun(uint Start, uint Count);

/// <summary>One inode of the image being written; hard links share it.</summary>
internal sealed class Ext4Node
{
    public Ext4Node(Ext4NodeKind kind, Ext4EntryMetadata metadata, Ext4Node? parent)
    {
        Kind = kind;
        Metadata = metadata;
        Parent = parent;
        if (kind == Ext4NodeKind.Directory)
        {
            Children = new Dictionary<string, Ext4Node>(StringComparer.Ordinal);
        }
    }

    public Ext4NodeKind Kind { get; }

    public Ext4EntryMetadata Metadata { get; set; }

    /// <summary>The directory holding a directory (itself for the root); null for other kinds, which may have several.</summary>
    public Ext4Node? Parent { get; set; }

    /// <summary>Names that refer to this node.</summary>
    public int Names { get; set; }

    public long Size { get; set; }

    /// <summary>Data blocks in logical order (file content, a long symlink's target, a directory's entries).</summary>
    public List<BlockRun> Data { get; } = [];

    public byte[]? FastSymlinkTarget { get; set; }

    public uint DeviceMajor { get; init; }

    public uint DeviceMinor { get; init; }

    public Dictionary<string, Ext4Node>? Children { get; }

    /// <summary>Assigned when the image is laid out.</summary>
    public uint Number { get; set; }

    public uint XattrBlock { get; set; }

    public List<uint> ExtentLeaves { get; } = [];

    public List<Ext4Format.Xattr> Xattrs { get; set; } = [];

    public long DataBlocks => Data.Sum(run => (long)run.Count);
}

/// <summary>Paths inside the image: components split on '/', with "." dropped; symbolic links followed inside the image only.</summary>
internal static class Ext4Paths
{
    public const int MaxSymlinkHops = 40;

    public static List<string> Split(string path) =>
        [.. path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".")];

    public static byte[] EncodeName(string name, string path, string target)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length > Ext4Format.MaxNameBytes)
        {
            throw new Ext4WriteException(target, $"the name of '{path}' is {bytes.Length} bytes; ext4 allows {Ext4Format.MaxNameBytes}");
        }

        return bytes;
    }
}
