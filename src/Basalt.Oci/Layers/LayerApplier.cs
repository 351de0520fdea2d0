using Basalt.Oci.Model;
using Basalt.Platform;

namespace Basalt.Oci.Layers;

/// <summary>A layer blob on disk, its media type, and the diff_id (sha256 of the uncompressed tar) when known.</summary>
public sealed record LayerBlob(string Path, string MediaType, Digest? DiffId = null)
{
    /// <summary>How errors and progress name this layer.</summary>
    public string DisplayName => DiffId is { } diffId ? diffId.Value : System.IO.Path.GetFileName(Path);
}

/// <summary>How layers are applied.</summary>
public sealed record LayerApplyOptions
{
    /// <summary>
    /// Whether the unpack may do what only root can (device nodes, any owner, trusted/security xattrs).
    /// Null: decided by the effective user id.
    /// </summary>
    public bool? Privileged { get; init; }

    /// <summary>Restore uid/gid with lchown. Null: when privileged. False: every entry belongs to the caller.</summary>
    public bool? PreserveOwnership { get; init; }

    /// <summary>
    /// Unprivileged unpacks cannot create character or block devices. By default such an entry fails the
    /// unpack with <see cref="DeviceNodeNotPermittedException"/>; when true it is skipped and reported as a warning.
    /// </summary>
    public bool SkipDevicesWhenUnprivileged { get; init; }

    /// <summary>Replace a non-empty target atomically (rename-exchange), then delete the old tree.</summary>
    public bool OverwriteExisting { get; init; }

    /// <summary>
    /// Flush the unpacked tree to stable storage (syncfs) before it is renamed into place, so a power
    /// cut never leaves a target whose files are empty. Off by default: most unpacks are intermediate.
    /// </summary>
    public bool Durable { get; init; }
}

/// <summary>Progress of an unpack: per layer, compressed bytes consumed and entries applied.</summary>
public sealed record LayerApplyProgress(
    int LayerIndex,
    int LayerCount,
    string Layer,
    long CompressedBytesRead,
    long CompressedSize,
    long EntriesApplied,
    bool LayerCompleted);

/// <summary>What an unpack did: the diff_ids it computed, how many entries, and what it skipped.</summary>
public sealed record LayerApplyResult(
    string Target,
    IReadOnlyList<Digest> DiffIds,
    long EntriesApplied,
    IReadOnlyList<string> Warnings);

/// <summary>
/// Applies image layers, in order, into a directory, the way an overlay stack would present them.
/// Everything goes into a staging directory next to the target and is renamed into place only when
/// every layer applied; on any failure the staging directory is removed and the target is untouched.
/// Path safety: every entry's parent path is resolved component by component inside the root; a
/// relative symlink that stays inside is followed, while a symlink that is absolute or climbs out of
/// the root is never written through (absolute entry names are taken as relative to the root).
/// </summary>
public sealed class LayerApplier
{
    public Task<LayerApplyResult> ApplyAsync(
        string targetDirectory,
        IReadOnlyList<LayerBlob> layers,
        LayerApplyOptions? options = null,
        IProgress<LayerApplyProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(targetDirectory);
        ArgumentNullException.ThrowIfNull(layers);
        return ApplyCoreAsync(targetDirectory, layers, options ?? new LayerApplyOptions(), progress, cancellationToken);
    }

    public LayerApplyResult Apply(string targetDirectory, IReadOnlyList<LayerBlob> layers, LayerApplyOptions? options = null) =>
        ApplyAsync(targetDirectory, layers, options).GetAwaiter().GetResult();

    /// <summary>
    /// Applies <paramref name="layers"/>, in order, onto the tree already at <paramref name="root"/> (the tree of the
    /// layers below them), in place: whiteouts and opaque directories remove what the tree holds, and a directory the
    /// layers do not name keeps its times, so the result is the tree a full unpack of all the layers gives. Not atomic:
    /// on failure the tree is left half-applied, so <paramref name="root"/> must be a working copy its owner discards
    /// on failure (<see cref="LayerApplyOptions.OverwriteExisting"/> does not apply).
    /// </summary>
    public Task<LayerApplyResult> ApplyInPlaceAsync(
        string root,
        IReadOnlyList<LayerBlob> layers,
        LayerApplyOptions? options = null,
        IProgress<LayerApplyProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentNullException.ThrowIfNull(layers);
        return ApplyInPlaceCoreAsync(root, layers, options ?? new LayerApplyOptions(), progress, cancellationToken);
    }

    private static async Task<LayerApplyResult> ApplyInPlaceCoreAsync(
        string root,
        IReadOnlyList<LayerBlob> layers,
        LayerApplyOptions options,
        IProgress<LayerApplyProgress>? progress,
        CancellationToken cancellationToken)
    {
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        if (target == "/")
        {
            throw new ArgumentException("refusing to apply layers onto /", nameof(root));
        }

        if (!Posix.TryGetStatus(target, out var status) || status.Kind != UnixFileKind.Directory)
        {
            throw new DirectoryNotFoundException($"the tree to apply layers onto, {target}, is not a directory");
        }

        var session = new LayerApplySession(target, options, inPlace: true);
        var diffIds = new List<Digest>();
        for (var i = 0; i < layers.Count; i++)
        {
            diffIds.Add(await session.ApplyLayerAsync(layers[i], i, layers.Count, progress, cancellationToken).ConfigureAwait(false));
        }

        session.FinishDirectories();
        if (options.Durable)
        {
            Posix.SyncFileSystem(target);
        }

        return new LayerApplyResult(target, diffIds, session.EntriesApplied, session.Warnings);
    }

    private static async Task<LayerApplyResult> ApplyCoreAsync(
        string targetDirectory,
        IReadOnlyList<LayerBlob> layers,
        LayerApplyOptions options,
        IProgress<LayerApplyProgress>? progress,
        CancellationToken cancellationToken)
    {
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(targetDirectory));
        if (target == "/")
        {
            throw new ArgumentException("refusing to unpack onto /", nameof(targetDirectory));
        }

        var parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        var targetExists = CheckTarget(target, options.OverwriteExisting);
        var staging = Path.Combine(parent, $".{Path.GetFileName(target)}.staging-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        LayerApplySession session;
        var diffIds = new List<Digest>();
        try
        {
            session = new LayerApplySession(staging, options);
            for (var i = 0; i < layers.Count; i++)
            {
                diffIds.Add(await session.ApplyLayerAsync(layers[i], i, layers.Count, progress, cancellationToken).ConfigureAwait(false));
            }

            session.FinishDirectories();
            if (options.Durable)
            {
                Posix.SyncFileSystem(staging);
            }

            if (targetExists)
            {
                Posix.ExchangePaths(staging, target);
            }
            else
            {
                Posix.RenameNoReplaceTarget(staging, target);
            }

            Posix.SyncParent(target);
        }
        catch
        {
            TreeRemoval.Delete(staging);
            throw;
        }

        if (targetExists)
        {
            // The staging name now holds the previous tree.
            TreeRemoval.Delete(staging);
        }

        return new LayerApplyResult(target, diffIds, session.EntriesApplied, session.Warnings);
    }

    private static bool CheckTarget(string target, bool overwrite)
    {
        if (!Posix.TryGetStatus(target, out var status))
        {
            return false;
        }

        if (status.Kind != UnixFileKind.Directory)
        {
            throw new UnpackTargetNotEmptyException(target);
        }

        if (!overwrite && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new UnpackTargetNotEmptyException(target);
        }

        return true;
    }
}

/// <summary>Removes a tree even when its directories are read-only to the caller.</summary>
internal static class TreeRemoval
{
    public static void Delete(string path)
    {
        try
        {
            if (!Posix.TryGetStatus(path, out var status))
            {
                return;
            }

            if (status.Kind != UnixFileKind.Directory)
            {
                File.Delete(path);
                return;
            }

            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (UnauthorizedAccessException)
            {
                MakeWritable(path);
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
                MakeWritable(path);
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void MakeWritable(string path)
    {
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var directory in Directory.EnumerateDirectories(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
