using Basalt.Oci.Model;
using Basalt.Platform;

namespace Basalt.Agent.Upgrade;

/// <summary>
/// The unpacked tree of the last image an upgrade staged, kept on COS_PERSISTENT under the chain ID of its layers
/// (<c>.basalt/trees/sha256-HEX</c>), so the next upgrade whose layers start with that chain renames it to the staging
/// path and applies only the layers above it. Safe against a cut at any instant because:
/// a tree gets its chain name only once it is whole and flushed (<see cref="Keep"/>); it is never modified under that
/// name (an upgrade first renames it to the staging path, which recovery removes); a tree that goes is first renamed to
/// a name that is no chain, then deleted. So a cut costs at most a full unpack next time, never a tree that claims
/// layers it does not hold. The name is the whole key: a tree whose chain does not match the image is simply not used.
/// </summary>
public sealed class KeptTreeStore
{
    private const string DropPrefix = ".drop-";

    public KeptTreeStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
    }

    /// <summary>Where kept trees live (<see cref="Node.NodePaths.TreeCacheDirectory"/>).</summary>
    public string Directory { get; }

    /// <summary>The directory name of the tree of <paramref name="chainId"/>: the digest with ':' as '-'.</summary>
    public static string NameOf(string chainId)
    {
        var digest = Digest.Parse(chainId);
        return $"{digest.Algorithm}-{digest.Hex}";
    }

    /// <summary>The chain ID a directory name stands for, or null for a name that is no kept tree (a tree being dropped, junk).</summary>
    public static string? ChainIdOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var dash = name.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && Digest.TryParse($"{name[..dash]}:{name[(dash + 1)..]}", out var digest) ? digest.Value : null;
    }

    public string PathOf(string chainId) => Path.Combine(Directory, NameOf(chainId));

    /// <summary>The chain IDs of the trees kept here.</summary>
    public IReadOnlyList<string> List()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        return [.. System.IO.Directory.EnumerateDirectories(Directory)
            .Select(path => ChainIdOf(Path.GetFileName(path)))
            .OfType<string>()
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Moves the tree of <paramref name="chainId"/> to <paramref name="staging"/> (absent; same filesystem), durably: from
    /// here on it is the upgrade's working copy, which recovery removes if the upgrade does not finish.
    /// </summary>
    public void TakeInto(string chainId, string staging)
    {
        ArgumentException.ThrowIfNullOrEmpty(staging);
        var tree = PathOf(chainId);
        Posix.RenameNoReplaceTarget(tree, staging);
        Posix.SyncParent(staging);
        Posix.Sync(Directory);
    }

    /// <summary>Removes every tree (and anything else) kept here, except <paramref name="except"/>.</summary>
    public void DropAll(string? except = null)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }

        var keep = except is null ? null : NameOf(except);
        var doomed = new List<string>();
        foreach (var entry in System.IO.Directory.EnumerateFileSystemEntries(Directory))
        {
            var name = Path.GetFileName(entry);
            if (name == keep)
            {
                continue;
            }

            if (name.StartsWith(DropPrefix, StringComparison.Ordinal))
            {
                doomed.Add(entry);
                continue;
            }

            // Renamed out of its chain name first: a cut during the delete leaves no half tree under a chain name.
            var renamed = Path.Combine(Directory, DropPrefix + Guid.NewGuid().ToString("N"));
            Posix.RenameNoReplaceTarget(entry, renamed);
            doomed.Add(renamed);
        }

        if (doomed.Count == 0)
        {
            return;
        }

        Posix.Sync(Directory);
        foreach (var path in doomed)
        {
            Delete(path);
        }
    }

    /// <summary>
    /// Keeps the staged tree <paramref name="staging"/> as the tree of <paramref name="chainId"/>: every other kept tree
    /// goes, the filesystem is flushed (syncfs: the tree's files are on disk before any name claims them), then the tree
    /// is renamed to its chain name and the directory flushed. Nothing happens when <paramref name="staging"/> is gone
    /// (already kept by an earlier run of the same completion).
    /// </summary>
    public void Keep(string staging, string chainId)
    {
        ArgumentException.ThrowIfNullOrEmpty(staging);
        if (!System.IO.Directory.Exists(staging))
        {
            return;
        }

        System.IO.Directory.CreateDirectory(Directory);
        DropAll();
        Posix.SyncFileSystem(staging);
        Posix.RenameNoReplaceTarget(staging, PathOf(chainId));
        Posix.Sync(Directory);
        Posix.SyncParent(staging);
    }

    /// <summary>Block bytes the trees kept here take, per chain ID (what dropping them frees).</summary>
    public long MeasureBytes(string chainId) => Disk.FileSystems.DirectoryTree.Measure(PathOf(chainId)).BlockBytes;

    private static void Delete(string path)
    {
        if (!Posix.TryGetStatus(path, out var status))
        {
            return;
        }

        if (status.Kind == UnixFileKind.Directory)
        {
            System.IO.Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }
}
