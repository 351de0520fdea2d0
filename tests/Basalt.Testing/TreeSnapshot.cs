using System.Security.Cryptography;
using Basalt.Platform;

namespace Basalt.Testing;

/// <summary>One entry of a captured tree, everything an unpacked image must reproduce exactly.</summary>
public sealed record TreeEntry(
    string Path,
    UnixFileKind Kind,
    UnixFileMode Mode,
    int UserId,
    int GroupId,
    long Size,
    string? ContentSha256,
    string? LinkTarget,
    uint DeviceMajor,
    uint DeviceMinor,
    IReadOnlyDictionary<string, string> ExtendedAttributes,
    long ModifiedSeconds,
    string? HardLinkGroup)
{
    /// <summary>Mode as octal text including setuid/setgid/sticky, e.g. 4755.</summary>
    public string OctalMode => Convert.ToString((int)Mode, 8).PadLeft(4, '0');
}

/// <summary>What to leave out when comparing two trees.</summary>
public sealed record TreeCompareOptions
{
    /// <summary>Directory mtimes depend on the order entries were written; many tools do not restore them.</summary>
    public bool IgnoreDirectoryModifiedTimes { get; init; }

    /// <summary>Ignore every mtime (files, links, directories).</summary>
    public bool IgnoreModifiedTimes { get; init; }

    /// <summary>Ignore owners (non-root unpacks cannot restore them).</summary>
    public bool IgnoreOwnership { get; init; }

    /// <summary>Relative paths (as captured, '/'-separated, no leading slash) left out entirely, with everything below them.</summary>
    public IReadOnlySet<string> IgnoredPaths { get; init; } = new HashSet<string>(StringComparer.Ordinal);
}

/// <summary>
/// A captured directory tree: every entry with kind, mode, owner, size, content hash, link target,
/// device numbers, xattrs, mtime and hard-link grouping. Used to compare unpacked trees exactly
/// (Basalt against umoci, writer → applier round trips).
/// </summary>
public sealed class TreeSnapshot
{
    private TreeSnapshot(string root, IReadOnlyDictionary<string, TreeEntry> entries)
    {
        Root = root;
        Entries = entries;
    }

    public string Root { get; }

    /// <summary>Entries by relative path ('/'-separated, no leading slash); the root itself is not included.</summary>
    public IReadOnlyDictionary<string, TreeEntry> Entries { get; }

    public TreeEntry this[string relativePath] => Entries[relativePath];

    public static TreeSnapshot Capture(string root)
    {
        var full = Path.GetFullPath(root);
        var rootStatus = Posix.GetStatus(full);
        if (rootStatus.Kind != UnixFileKind.Directory)
        {
            throw new ArgumentException($"'{root}' is not a directory", nameof(root));
        }

        var raw = new List<(TreeEntry Entry, ulong Device, ulong Inode, uint Links)>();
        Walk(full, string.Empty, raw);

        // Hard-link groups are named by the first path (ordinal order) of the group, so two captures
        // of equivalent trees name their groups identically.
        var groups = raw
            .Where(r => r.Entry.Kind != UnixFileKind.Directory && r.Links > 1)
            .GroupBy(r => (r.Device, r.Inode))
            .Where(g => g.Count() > 1)
            .SelectMany(g =>
            {
                var name = g.Select(r => r.Entry.Path).Min(StringComparer.Ordinal)!;
                return g.Select(r => (r.Entry.Path, name));
            })
            .ToDictionary(p => p.Path, p => p.name, StringComparer.Ordinal);

        var entries = new SortedDictionary<string, TreeEntry>(StringComparer.Ordinal);
        foreach (var (entry, _, _, _) in raw)
        {
            entries[entry.Path] = groups.TryGetValue(entry.Path, out var group) ? entry with { HardLinkGroup = group } : entry;
        }

        return new TreeSnapshot(full, entries);
    }

    /// <summary>Readable differences, empty when the trees match under <paramref name="options"/>.</summary>
    public static IReadOnlyList<string> Differences(TreeSnapshot expected, TreeSnapshot actual, TreeCompareOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        options ??= new TreeCompareOptions();
        var differences = new List<string>();
        var paths = expected.Entries.Keys.Union(actual.Entries.Keys).Where(p => !IsIgnored(p, options.IgnoredPaths)).Order(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var hasExpected = expected.Entries.TryGetValue(path, out var e);
            var hasActual = actual.Entries.TryGetValue(path, out var a);
            if (!hasActual)
            {
                differences.Add($"{path}: missing (expected {Describe(e!)})");
                continue;
            }

            if (!hasExpected)
            {
                differences.Add($"{path}: unexpected {Describe(a!)}");
                continue;
            }

            Compare(path, e!, a!, options, differences);
        }

        return differences;
    }

    /// <summary>Throws with every difference listed when the trees differ; for test assertions.</summary>
    public static void AssertEqual(TreeSnapshot expected, TreeSnapshot actual, TreeCompareOptions? options = null)
    {
        var differences = Differences(expected, actual, options);
        if (differences.Count > 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"trees differ ({expected.Root} vs {actual.Root}), {differences.Count} difference(s):{Environment.NewLine}  " +
                string.Join(Environment.NewLine + "  ", differences.Take(200)));
        }
    }

    private static void Compare(string path, TreeEntry e, TreeEntry a, TreeCompareOptions options, List<string> differences)
    {
        if (e.Kind != a.Kind)
        {
            differences.Add($"{path}: kind {e.Kind} expected, found {a.Kind}");
            return;
        }

        if (e.Mode != a.Mode)
        {
            differences.Add($"{path}: mode {e.OctalMode} expected, found {a.OctalMode}");
        }

        if (!options.IgnoreOwnership && (e.UserId != a.UserId || e.GroupId != a.GroupId))
        {
            differences.Add($"{path}: owner {e.UserId}:{e.GroupId} expected, found {a.UserId}:{a.GroupId}");
        }

        if (e.Kind == UnixFileKind.Regular)
        {
            if (e.Size != a.Size)
            {
                differences.Add($"{path}: size {e.Size} expected, found {a.Size}");
            }
            else if (e.ContentSha256 != a.ContentSha256)
            {
                differences.Add($"{path}: content differs (sha256 {e.ContentSha256} expected, found {a.ContentSha256})");
            }
        }

        if (e.LinkTarget != a.LinkTarget)
        {
            differences.Add($"{path}: symlink target '{e.LinkTarget}' expected, found '{a.LinkTarget}'");
        }

        if (e.DeviceMajor != a.DeviceMajor || e.DeviceMinor != a.DeviceMinor)
        {
            differences.Add($"{path}: device {e.DeviceMajor},{e.DeviceMinor} expected, found {a.DeviceMajor},{a.DeviceMinor}");
        }

        foreach (var name in e.ExtendedAttributes.Keys.Union(a.ExtendedAttributes.Keys).Order(StringComparer.Ordinal))
        {
            e.ExtendedAttributes.TryGetValue(name, out var ev);
            a.ExtendedAttributes.TryGetValue(name, out var av);
            if (ev != av)
            {
                differences.Add($"{path}: xattr {name} '{ev ?? "(absent)"}' expected, found '{av ?? "(absent)"}'");
            }
        }

        var ignoreTime = options.IgnoreModifiedTimes || (options.IgnoreDirectoryModifiedTimes && e.Kind == UnixFileKind.Directory);
        if (!ignoreTime && e.ModifiedSeconds != a.ModifiedSeconds)
        {
            differences.Add($"{path}: mtime {DateTimeOffset.FromUnixTimeSeconds(e.ModifiedSeconds):O} expected, found {DateTimeOffset.FromUnixTimeSeconds(a.ModifiedSeconds):O}");
        }

        if (e.HardLinkGroup != a.HardLinkGroup)
        {
            differences.Add($"{path}: hard-link group '{e.HardLinkGroup ?? "(none)"}' expected, found '{a.HardLinkGroup ?? "(none)"}'");
        }
    }

    private static string Describe(TreeEntry entry) => entry.Kind switch
    {
        UnixFileKind.Regular => $"file {entry.OctalMode} {entry.Size} bytes",
        UnixFileKind.SymbolicLink => $"symlink -> {entry.LinkTarget}",
        UnixFileKind.CharacterDevice or UnixFileKind.BlockDevice => $"{entry.Kind} {entry.DeviceMajor},{entry.DeviceMinor}",
        _ => $"{entry.Kind} {entry.OctalMode}",
    };

    private static bool IsIgnored(string path, IReadOnlySet<string> ignored)
    {
        if (ignored.Count == 0)
        {
            return false;
        }

        var current = path;
        while (true)
        {
            if (ignored.Contains(current))
            {
                return true;
            }

            var slash = current.LastIndexOf('/');
            if (slash < 0)
            {
                return false;
            }

            current = current[..slash];
        }
    }

    private static void Walk(string directory, string relative, List<(TreeEntry, ulong, ulong, uint)> output)
    {
        var names = Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions
        {
            RecurseSubdirectories = false,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        }).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();

        foreach (var name in names)
        {
            var full = Path.Combine(directory, name!);
            var path = relative.Length == 0 ? name! : $"{relative}/{name}";
            var status = Posix.GetStatus(full);
            string? sha = null;
            string? target = null;
            if (status.Kind == UnixFileKind.Regular)
            {
                using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
                sha = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            else if (status.Kind == UnixFileKind.SymbolicLink)
            {
                target = new FileInfo(full).LinkTarget;
            }

            var xattrs = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var attribute in Posix.ListExtendedAttributes(full))
            {
                var value = Posix.GetExtendedAttribute(full, attribute);
                xattrs[attribute] = value is null ? "(none)" : Convert.ToHexStringLower(value);
            }

            var isDevice = status.Kind is UnixFileKind.CharacterDevice or UnixFileKind.BlockDevice;
            var entry = new TreeEntry(
                path,
                status.Kind,
                status.Mode,
                status.UserId,
                status.GroupId,
                status.Kind == UnixFileKind.Regular ? status.Size : 0,
                sha,
                target,
                isDevice ? status.DeviceMajor : 0,
                isDevice ? status.DeviceMinor : 0,
                xattrs,
                status.ModifiedTime.ToUnixTimeSeconds(),
                null);
            output.Add((entry, status.Device, status.Inode, status.LinkCount));

            if (status.Kind == UnixFileKind.Directory)
            {
                Walk(full, path, output);
            }
        }
    }
}
