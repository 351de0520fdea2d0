using Basalt.Oci.Model;
using Basalt.Platform;

namespace Basalt.Oci.Layers;

/// <summary>The state of one unpack into one staging root: deferred directory metadata, warnings, counts.</summary>
internal sealed class LayerApplySession
{
    private const int MaxSymlinkHops = 40;
    private const string WhiteoutPrefix = LayerReading.WhiteoutPrefix;
    private const string OpaqueWhiteout = LayerReading.OpaqueWhiteout;

    private readonly string _root;
    private readonly bool _privileged;
    private readonly bool _preserveOwnership;
    private readonly bool _skipDevices;
    private readonly List<string> _warnings = [];

    // Directory mode and times are set last: writing into a directory changes its mtime, and an
    // unprivileged unpack must still be able to write into a directory that ends up read-only.
    private readonly Dictionary<string, TarEntryHeader> _directories = new(StringComparer.Ordinal);

    // Paths the current layer created, and their ancestors: whiteouts only hide lower layers' content.
    private readonly HashSet<string> _added = new(StringComparer.Ordinal);
    private readonly HashSet<string> _addedAncestors = new(StringComparer.Ordinal);
    // Real directories (never symlinks) already verified during this layer; every removal that could
    // turn one into something else goes through Remove, which forgets it and everything below it.
    private readonly HashSet<string> _knownDirectories = new(StringComparer.Ordinal);

    // Applying onto an existing tree: the times each directory that was there before had when this session first came
    // to it, restored at the end unless a layer names the directory itself. Writing a file into /etc must not leave
    // /etc with today's mtime when a full unpack of the same layers gives it the lower layer's (the image would differ).
    private readonly bool _inPlace;
    private readonly Dictionary<string, (ulong Inode, DateTime Access, DateTimeOffset Modified)> _earlierDirectoryTimes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _createdDirectories = new(StringComparer.Ordinal);
    private string _layer = string.Empty;

    public LayerApplySession(string root, LayerApplyOptions options, bool inPlace = false)
    {
        _root = root;
        _privileged = options.Privileged ?? Posix.IsRoot;
        _preserveOwnership = options.PreserveOwnership ?? _privileged;
        _skipDevices = options.SkipDevicesWhenUnprivileged;
        _inPlace = inPlace;
        if (inPlace)
        {
            RememberEarlierDirectory(root, Posix.GetStatus(root));
        }
    }

    public long EntriesApplied { get; private set; }

    public IReadOnlyList<string> Warnings => _warnings;

    public Task<Digest> ApplyLayerAsync(LayerBlob layer, int index, int count, IProgress<LayerApplyProgress>? progress, CancellationToken cancellationToken)
    {
        _layer = layer.DisplayName;
        _added.Clear();
        _addedAncestors.Clear();
        _knownDirectories.Clear();
        return LayerReading.ReadEntriesAsync(
            layer,
            index,
            count,
            async (entry, data, token) =>
            {
                await ApplyEntryAsync(entry, data, token).ConfigureAwait(false);
                EntriesApplied++;
            },
            progress,
            cancellationToken);
    }

    public void FinishDirectories()
    {
        foreach (var (path, header) in _directories.OrderByDescending(d => d.Key.Length))
        {
            if (!Posix.TryGetStatus(path, out var status) || status.Kind != UnixFileKind.Directory)
            {
                continue; // removed or replaced by a later layer
            }

            File.SetUnixFileMode(path, header.Mode);
            Posix.SetTimes(path, header.AccessTime ?? header.ModifiedTime, header.ModifiedTime);
        }

        foreach (var (path, earlier) in _earlierDirectoryTimes.OrderByDescending(d => d.Key.Length))
        {
            // A directory a layer named got its header's times above; one removed or replaced is not the earlier one.
            if (_directories.ContainsKey(path) || !Posix.TryGetStatus(path, out var status) || status.Kind != UnixFileKind.Directory || status.Inode != earlier.Inode)
            {
                continue;
            }

            Posix.SetTimes(path, new DateTimeOffset(earlier.Access, TimeSpan.Zero), earlier.Modified);
        }
    }

    private void RememberEarlierDirectory(string path, UnixFileStatus status)
    {
        if (_inPlace && !_createdDirectories.Contains(path) && !_earlierDirectoryTimes.ContainsKey(path))
        {
            _earlierDirectoryTimes[path] = (status.Inode, Directory.GetLastAccessTimeUtc(path), status.ModifiedTime);
        }
    }

    private async Task ApplyEntryAsync(TarEntryHeader entry, Stream data, CancellationToken cancellationToken)
    {
        var parts = Normalize(entry.Name, entry.Name, "its name");
        if (parts.Count == 0)
        {
            if (entry.Kind != TarEntryKind.Directory)
            {
                throw Unsafe(entry.Name, "it names the root directory but is not a directory");
            }

            ApplyDirectory(_root, entry);
            return;
        }

        var name = parts[^1];
        var parentParts = parts.GetRange(0, parts.Count - 1);
        if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            ApplyWhiteout(entry.Name, parentParts, name);
            return;
        }

        var parent = ResolveDirectory(parentParts, create: true, entry.Name)!;
        var path = Path.Combine(parent, name);
        switch (entry.Kind)
        {
            case TarEntryKind.Directory:
                if (!ClearSlot(path, keepDirectory: true))
                {
                    Directory.CreateDirectory(path);
                    _createdDirectories.Add(path);
                }

                MarkAdded(path);
                ApplyDirectory(path, entry);
                break;
            case TarEntryKind.RegularFile:
                ClearSlot(path, keepDirectory: false);
                await WriteFileAsync(path, entry, data, cancellationToken).ConfigureAwait(false);
                MarkAdded(path);
                ApplyMetadata(path, entry, isSymlink: false);
                break;
            case TarEntryKind.SymbolicLink:
                if (entry.LinkName.Length == 0)
                {
                    throw new CorruptLayerException(_layer, $"symbolic link '{entry.Name}' has an empty target");
                }

                ClearSlot(path, keepDirectory: false);
                File.CreateSymbolicLink(path, entry.LinkName);
                MarkAdded(path);
                ApplyMetadata(path, entry, isSymlink: true);
                break;
            case TarEntryKind.HardLink:
                ApplyHardLink(path, entry);
                break;
            case TarEntryKind.CharacterDevice:
            case TarEntryKind.BlockDevice:
                if (!_privileged)
                {
                    if (!_skipDevices)
                    {
                        throw new DeviceNodeNotPermittedException(_layer, entry.Name);
                    }

                    _warnings.Add($"layer {_layer}: skipped device node '{entry.Name}' ({entry.DeviceMajor},{entry.DeviceMinor}): not running as root");
                    return;
                }

                ClearSlot(path, keepDirectory: false);
                Posix.CreateDevice(path, entry.Kind == TarEntryKind.CharacterDevice ? UnixFileKind.CharacterDevice : UnixFileKind.BlockDevice,
                    entry.Mode, entry.DeviceMajor, entry.DeviceMinor);
                MarkAdded(path);
                ApplyMetadata(path, entry, isSymlink: false);
                break;
            case TarEntryKind.Fifo:
                ClearSlot(path, keepDirectory: false);
                Posix.CreateFifo(path, entry.Mode);
                MarkAdded(path);
                ApplyMetadata(path, entry, isSymlink: false);
                break;
            default:
                throw new UnsupportedLayerEntryException(_layer, entry.Name, $"entry kind {entry.Kind}");
        }
    }

    private void ApplyWhiteout(string entryName, List<string> parentParts, string name)
    {
        if (name == OpaqueWhiteout)
        {
            var directory = ResolveDirectory(parentParts, create: true, entryName)!;
            MarkAdded(directory);
            foreach (var child in Directory.EnumerateFileSystemEntries(directory).ToList())
            {
                RemoveLowerContent(child);
            }

            return;
        }

        if (name.StartsWith(WhiteoutPrefix + WhiteoutPrefix, StringComparison.Ordinal))
        {
            return; // other aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs) carries no content
        }

        var victim = name[WhiteoutPrefix.Length..];
        if (victim is "" or "." or "..")
        {
            throw Unsafe(entryName, "a whiteout must name an entry in its directory");
        }

        var parent = ResolveDirectory(parentParts, create: false, entryName);
        if (parent is not null)
        {
            RemoveLowerContent(Path.Combine(parent, victim));
        }
    }

    /// <summary>Deletes what lower layers put at <paramref name="path"/>, keeping what the current layer added.</summary>
    private void RemoveLowerContent(string path)
    {
        if (!Posix.TryGetStatus(path, out var status))
        {
            return;
        }

        if (_added.Contains(path) || _addedAncestors.Contains(path))
        {
            if (status.Kind == UnixFileKind.Directory)
            {
                foreach (var child in Directory.EnumerateFileSystemEntries(path).ToList())
                {
                    RemoveLowerContent(child);
                }
            }

            return;
        }

        Remove(path, status);
    }

    private void ApplyHardLink(string path, TarEntryHeader entry)
    {
        var targetParts = Normalize(entry.LinkName, entry.Name, $"its hard link target '{entry.LinkName}'");
        if (targetParts.Count == 0)
        {
            throw Unsafe(entry.Name, "it is a hard link to the root directory");
        }

        var targetParent = ResolveDirectory(targetParts.GetRange(0, targetParts.Count - 1), create: false, entry.Name)
            ?? throw Unsafe(entry.Name, $"its hard link target '{entry.LinkName}' does not exist");
        var target = Path.Combine(targetParent, targetParts[^1]);
        if (!Posix.TryGetStatus(target, out var status))
        {
            throw Unsafe(entry.Name, $"its hard link target '{entry.LinkName}' does not exist");
        }

        if (status.Kind == UnixFileKind.Directory)
        {
            throw Unsafe(entry.Name, $"its hard link target '{entry.LinkName}' is a directory");
        }

        if (target == path)
        {
            return; // a link to itself changes nothing
        }

        ClearSlot(path, keepDirectory: false);
        Posix.CreateHardLink(target, path);
        MarkAdded(path);
    }

    private static async Task WriteFileAsync(string path, TarEntryHeader entry, Stream data, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        var output = new FileStream(path, options);
        await using (output.ConfigureAwait(false))
        {
            if (entry.Size == 0)
            {
                return;
            }

            // Blocks of zeros become holes, so sparse files (disk images, databases) stay sparse.
            var buffer = new byte[Math.Min(entry.Size, 1 << 17)];
            var left = entry.Size;
            while (left > 0)
            {
                var wanted = (int)Math.Min(buffer.Length, left);
                var read = await data.ReadAtLeastAsync(buffer.AsMemory(0, wanted), wanted, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break; // the reader raises a truncation error itself
                }

                if (buffer.AsSpan(0, read).IndexOfAnyExcept((byte)0) < 0)
                {
                    output.Seek(read, SeekOrigin.Current);
                }
                else
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }

                left -= read;
            }

            output.SetLength(entry.Size);
        }
    }

    private void ApplyDirectory(string path, TarEntryHeader entry)
    {
        if (_preserveOwnership)
        {
            Posix.ChangeOwner(path, entry.UserId, entry.GroupId);
        }

        SetExtendedAttributes(path, entry);
        _directories[path] = entry;
    }

    private void ApplyMetadata(string path, TarEntryHeader entry, bool isSymlink)
    {
        // chown clears setuid/setgid and security.capability, so it comes first.
        if (_preserveOwnership)
        {
            Posix.ChangeOwner(path, entry.UserId, entry.GroupId);
        }

        if (!isSymlink)
        {
            File.SetUnixFileMode(path, entry.Mode);
        }

        SetExtendedAttributes(path, entry);
        Posix.SetTimes(path, entry.AccessTime ?? entry.ModifiedTime, entry.ModifiedTime);
    }

    private void SetExtendedAttributes(string path, TarEntryHeader entry)
    {
        foreach (var (name, value) in entry.ExtendedAttributes)
        {
            try
            {
                Posix.SetExtendedAttribute(path, name, value);
            }
            catch (HostCallException e) when (!_privileged || e.ErrorNumber == Errno.EOPNOTSUPP)
            {
                _warnings.Add($"layer {_layer}: extended attribute {name} of '{entry.Name}' not set: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Empties the slot for a new entry: an existing directory stays when a directory is wanted
    /// (returns true), anything else is removed, like tar's overwrite of an earlier entry.
    /// </summary>
    private bool ClearSlot(string path, bool keepDirectory)
    {
        if (!Posix.TryGetStatus(path, out var status))
        {
            return false;
        }

        if (keepDirectory && status.Kind == UnixFileKind.Directory)
        {
            return true;
        }

        Remove(path, status);
        return false;
    }

    private void Remove(string path, UnixFileStatus status)
    {
        if (status.Kind == UnixFileKind.Directory)
        {
            var below = path + "/";
            _knownDirectories.RemoveWhere(known => known == path || known.StartsWith(below, StringComparison.Ordinal));
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }

    private void MarkAdded(string path)
    {
        _added.Add(path);
        var parent = Path.GetDirectoryName(path);
        while (parent is not null && parent.Length > _root.Length && _addedAncestors.Add(parent))
        {
            parent = Path.GetDirectoryName(parent);
        }
    }

    /// <summary>
    /// Resolves a directory path inside the root, one component at a time, never through a symlink
    /// that is absolute or leads out of the root. Missing directories are created when asked.
    /// </summary>
    private string? ResolveDirectory(List<string> components, bool create, string entryName)
    {
        var resolved = new List<string>();
        var remaining = new List<string>(components);
        var index = 0;
        var hops = 0;
        string? via = null;
        var current = _root;
        while (index < remaining.Count)
        {
            var component = remaining[index++];
            if (component == "..")
            {
                if (resolved.Count == 0)
                {
                    throw Unsafe(entryName, $"the symbolic link '{via}' leads outside the root, and the entry would be written through it");
                }

                resolved.RemoveAt(resolved.Count - 1);
                current = Path.GetDirectoryName(current)!;
                continue;
            }

            var candidate = Path.Combine(current, component);
            if (_knownDirectories.Contains(candidate))
            {
                resolved.Add(component);
                current = candidate;
                continue;
            }

            if (!Posix.TryGetStatus(candidate, out var status))
            {
                if (!create)
                {
                    return null;
                }

                Directory.CreateDirectory(candidate);
                _createdDirectories.Add(candidate);
                MarkAdded(candidate);
                _knownDirectories.Add(candidate);
                resolved.Add(component);
                current = candidate;
                continue;
            }

            switch (status.Kind)
            {
                case UnixFileKind.Directory:
                    RememberEarlierDirectory(candidate, status);
                    _knownDirectories.Add(candidate);
                    resolved.Add(component);
                    current = candidate;
                    break;
                case UnixFileKind.SymbolicLink:
                    via = Relative(candidate);
                    if (++hops > MaxSymlinkHops)
                    {
                        throw Unsafe(entryName, $"too many levels of symbolic links at '{via}'");
                    }

                    var target = new FileInfo(candidate).LinkTarget ?? string.Empty;
                    if (target.StartsWith('/'))
                    {
                        throw Unsafe(entryName, $"'{via}' is a symbolic link to the absolute path '{target}'; writing through it would leave the root");
                    }

                    var targetParts = target.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");
                    remaining = [.. targetParts, .. remaining.Skip(index)];
                    index = 0;
                    break;
                default:
                    throw Unsafe(entryName, $"its parent '{Relative(candidate)}' is a {status.Kind}, not a directory");
            }
        }

        return current;
    }

    private List<string> Normalize(string name, string entryName, string what) => LayerReading.Normalize(name, _layer, entryName, what);

    private string Relative(string path) => Path.GetRelativePath(_root, path);

    private UnsafeLayerEntryException Unsafe(string entryName, string reason) => new(_layer, entryName, reason);
}
