using System.IO.Compression;
using Basalt.Oci.Model;
using Basalt.Platform;
using Basalt.Platform.Compression;

namespace Basalt.Oci.Layers;

/// <summary>How a layer is written.</summary>
public sealed record LayerWriteOptions
{
    /// <summary>Every entry gets this mtime (SOURCE_DATE_EPOCH style) for reproducible layers; null keeps the files' own.</summary>
    public DateTimeOffset? ModifiedTime { get; init; }

    /// <summary>Every entry gets this owner (e.g. 0:0 when an unprivileged user builds a root filesystem); null keeps the files' own.</summary>
    public int? UserId { get; init; }

    public int? GroupId { get; init; }

    public bool IncludeExtendedAttributes { get; init; } = true;

    /// <summary>Diff mode: compare file content when all metadata matches (catches same-size, same-second edits).</summary>
    public bool CompareContent { get; init; } = true;

    public CompressionLevel GzipLevel { get; init; } = CompressionLevel.Optimal;

    public int ZstdLevel { get; init; } = 3;
}

/// <summary>A written layer: its blob digest (compressed), diff_id (uncompressed tar) and blob size.</summary>
public sealed record LayerWriteResult(Digest Digest, Digest DiffId, long Size);

/// <summary>
/// Writes a directory as a deterministic layer (entries sorted, PAX format, numeric owners, no user
/// or group names), hashing the compressed blob and the uncompressed tar in the same single pass.
/// Sockets are left out: tar cannot represent them.
/// </summary>
public sealed class LayerWriter
{
    private static readonly UnixFileMode WhiteoutMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public Task<LayerWriteResult> WriteAsync(string sourceDirectory, Stream output, LayerCompression compression, LayerWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceDirectory);
        ArgumentNullException.ThrowIfNull(output);
        RequireDirectory(sourceDirectory);
        return WriteCoreAsync(Path.GetFullPath(sourceDirectory), null, output, compression, options ?? new LayerWriteOptions(), cancellationToken);
    }

    /// <summary>
    /// A layer that turns <paramref name="lowerDirectory"/> into <paramref name="upperDirectory"/>: added and
    /// changed entries, and a <c>.wh.NAME</c> whiteout for each entry that is gone.
    /// </summary>
    public Task<LayerWriteResult> WriteDiffAsync(string lowerDirectory, string upperDirectory, Stream output, LayerCompression compression, LayerWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(lowerDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(upperDirectory);
        ArgumentNullException.ThrowIfNull(output);
        RequireDirectory(lowerDirectory);
        RequireDirectory(upperDirectory);
        return WriteCoreAsync(Path.GetFullPath(upperDirectory), Path.GetFullPath(lowerDirectory), output, compression, options ?? new LayerWriteOptions(), cancellationToken);
    }

    private static void RequireDirectory(string path)
    {
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"layer source directory '{path}' does not exist");
        }
    }

    private static async Task<LayerWriteResult> WriteCoreAsync(string upper, string? lower, Stream output, LayerCompression compression, LayerWriteOptions options, CancellationToken cancellationToken)
    {
        var blob = new HashingWriteStream(output, leaveOpen: true);
        await using (blob.ConfigureAwait(false))
        {
            Stream compressor = compression switch
            {
                LayerCompression.Gzip => new GZipStream(blob, options.GzipLevel, leaveOpen: true),
                LayerCompression.Zstd => new ZstdCompressionStream(blob, options.ZstdLevel, leaveOpen: true),
                _ => blob,
            };
            Digest diffId;
            try
            {
                var tarStream = new HashingWriteStream(compressor, leaveOpen: true);
                await using (tarStream.ConfigureAwait(false))
                {
                    // Not disposed: disposing a BufferedStream disposes the hashing stream under it.
#pragma warning disable CA2000
                    var buffered = new BufferedStream(tarStream, 1 << 16);
#pragma warning restore CA2000
                    var walker = new TreeWalker(new TarStreamWriter(buffered), options, upper, lower);
                    await walker.WriteAsync(string.Empty, lower is not null, cancellationToken).ConfigureAwait(false);
                    await walker.Tar.FinishAsync(cancellationToken).ConfigureAwait(false);
                    await buffered.FlushAsync(cancellationToken).ConfigureAwait(false);
                    diffId = tarStream.GetDigest();
                }
            }
            finally
            {
                if (!ReferenceEquals(compressor, blob))
                {
                    await compressor.DisposeAsync().ConfigureAwait(false); // writes the compression trailer
                }
            }

            await blob.FlushAsync(cancellationToken).ConfigureAwait(false);
            return new LayerWriteResult(blob.GetDigest(), diffId, blob.BytesWritten);
        }
    }

    private sealed class TreeWalker
    {
        private readonly LayerWriteOptions _options;
        private readonly string _upper;
        private readonly string? _lower;
        private readonly Dictionary<(ulong Device, ulong Inode), string> _linkedInodes = [];

        public TreeWalker(TarStreamWriter tar, LayerWriteOptions options, string upper, string? lower)
        {
            Tar = tar;
            _options = options;
            _upper = upper;
            _lower = lower;
        }

        public TarStreamWriter Tar { get; }

        public async Task WriteAsync(string relative, bool lowerPresent, CancellationToken cancellationToken)
        {
            var upperDirectory = Join(_upper, relative);
            var names = new SortedSet<string>(ListNames(upperDirectory), StringComparer.Ordinal);
            if (lowerPresent)
            {
                names.UnionWith(ListNames(Join(_lower!, relative)));
            }

            foreach (var name in names)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var path = relative.Length == 0 ? name : $"{relative}/{name}";
                var upperPath = Join(_upper, path);
                var hasUpper = Posix.TryGetStatus(upperPath, out var upperStatus);
                var lowerStatus = default(UnixFileStatus);
                var hasLower = lowerPresent && Posix.TryGetStatus(Join(_lower!, path), out lowerStatus);
                if (!hasUpper)
                {
                    if (hasLower)
                    {
                        await WriteWhiteoutAsync(relative, name, cancellationToken).ConfigureAwait(false);
                    }

                    continue;
                }

                if (upperStatus.Kind is UnixFileKind.Socket or UnixFileKind.Unknown)
                {
                    continue;
                }

                if (!hasLower || await DiffersAsync(upperPath, upperStatus, Join(_lower!, path), lowerStatus, cancellationToken).ConfigureAwait(false))
                {
                    await WriteEntryAsync(path, upperPath, upperStatus, cancellationToken).ConfigureAwait(false);
                }

                if (upperStatus.Kind == UnixFileKind.Directory)
                {
                    await WriteAsync(path, hasLower && lowerStatus.Kind == UnixFileKind.Directory, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        private async Task WriteEntryAsync(string path, string fullPath, UnixFileStatus status, CancellationToken cancellationToken)
        {
            var header = new TarEntryHeader
            {
                Name = path,
                Kind = TarEntryKind.RegularFile,
                Mode = status.Mode,
                UserId = _options.UserId ?? status.UserId,
                GroupId = _options.GroupId ?? status.GroupId,
                ModifiedTime = DateTimeOffset.FromUnixTimeSeconds((_options.ModifiedTime ?? status.ModifiedTime).ToUnixTimeSeconds()),
                ExtendedAttributes = _options.IncludeExtendedAttributes ? ReadExtendedAttributes(fullPath) : new Dictionary<string, byte[]>(StringComparer.Ordinal),
            };

            if (status.Kind != UnixFileKind.Directory && status.LinkCount > 1)
            {
                if (_linkedInodes.TryGetValue((status.Device, status.Inode), out var first))
                {
                    await Tar.WriteEntryAsync(header with { Kind = TarEntryKind.HardLink, LinkName = first }, null, cancellationToken).ConfigureAwait(false);
                    return;
                }

                _linkedInodes[(status.Device, status.Inode)] = path;
            }

            switch (status.Kind)
            {
                case UnixFileKind.Regular:
                    var content = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.SequentialScan);
                    await using (content.ConfigureAwait(false))
                    {
                        await Tar.WriteEntryAsync(header with { Size = status.Size }, content, cancellationToken).ConfigureAwait(false);
                    }

                    break;
                case UnixFileKind.Directory:
                    await Tar.WriteEntryAsync(header with { Kind = TarEntryKind.Directory }, null, cancellationToken).ConfigureAwait(false);
                    break;
                case UnixFileKind.SymbolicLink:
                    await Tar.WriteEntryAsync(header with { Kind = TarEntryKind.SymbolicLink, LinkName = new FileInfo(fullPath).LinkTarget ?? string.Empty }, null, cancellationToken).ConfigureAwait(false);
                    break;
                case UnixFileKind.CharacterDevice:
                case UnixFileKind.BlockDevice:
                    await Tar.WriteEntryAsync(header with
                    {
                        Kind = status.Kind == UnixFileKind.CharacterDevice ? TarEntryKind.CharacterDevice : TarEntryKind.BlockDevice,
                        DeviceMajor = status.DeviceMajor,
                        DeviceMinor = status.DeviceMinor,
                    }, null, cancellationToken).ConfigureAwait(false);
                    break;
                case UnixFileKind.Fifo:
                    await Tar.WriteEntryAsync(header with { Kind = TarEntryKind.Fifo }, null, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    break;
            }
        }

        private Task WriteWhiteoutAsync(string relative, string name, CancellationToken cancellationToken)
        {
            var header = new TarEntryHeader
            {
                Name = relative.Length == 0 ? $".wh.{name}" : $"{relative}/.wh.{name}",
                Kind = TarEntryKind.RegularFile,
                Mode = WhiteoutMode,
                ModifiedTime = DateTimeOffset.FromUnixTimeSeconds((_options.ModifiedTime ?? DateTimeOffset.UnixEpoch).ToUnixTimeSeconds()),
            };
            return Tar.WriteEntryAsync(header, null, cancellationToken);
        }

        private async Task<bool> DiffersAsync(string upperPath, UnixFileStatus upper, string lowerPath, UnixFileStatus lower, CancellationToken cancellationToken)
        {
            if (upper.Kind != lower.Kind || upper.Mode != lower.Mode || upper.UserId != lower.UserId || upper.GroupId != lower.GroupId
                || upper.ModifiedTime != lower.ModifiedTime)
            {
                return true;
            }

            switch (upper.Kind)
            {
                case UnixFileKind.SymbolicLink when new FileInfo(upperPath).LinkTarget != new FileInfo(lowerPath).LinkTarget:
                case UnixFileKind.CharacterDevice or UnixFileKind.BlockDevice when upper.DeviceMajor != lower.DeviceMajor || upper.DeviceMinor != lower.DeviceMinor:
                case UnixFileKind.Regular when upper.Size != lower.Size:
                    return true;
                default:
                    break;
            }

            if (_options.IncludeExtendedAttributes && !SameAttributes(ReadExtendedAttributes(upperPath), ReadExtendedAttributes(lowerPath)))
            {
                return true;
            }

            return upper.Kind == UnixFileKind.Regular && _options.CompareContent
                && !await SameContentAsync(upperPath, lowerPath, cancellationToken).ConfigureAwait(false);
        }

        private static bool SameAttributes(Dictionary<string, byte[]> a, Dictionary<string, byte[]> b) =>
            a.Count == b.Count && a.All(pair => b.TryGetValue(pair.Key, out var other) && other.AsSpan().SequenceEqual(pair.Value));

        private static async Task<bool> SameContentAsync(string first, string second, CancellationToken cancellationToken)
        {
            var a = new FileStream(first, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            await using (a.ConfigureAwait(false))
            {
                var b = new FileStream(second, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
                await using (b.ConfigureAwait(false))
                {
                    var bufferA = new byte[1 << 16];
                    var bufferB = new byte[1 << 16];
                    while (true)
                    {
                        var readA = await a.ReadAtLeastAsync(bufferA, bufferA.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                        var readB = await b.ReadAtLeastAsync(bufferB, bufferB.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                        if (readA != readB || !bufferA.AsSpan(0, readA).SequenceEqual(bufferB.AsSpan(0, readB)))
                        {
                            return false;
                        }

                        if (readA == 0)
                        {
                            return true;
                        }
                    }
                }
            }
        }

        private static Dictionary<string, byte[]> ReadExtendedAttributes(string path)
        {
            var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var name in Posix.ListExtendedAttributes(path))
            {
                if (Posix.GetExtendedAttribute(path, name) is { } value)
                {
                    result[name] = value;
                }
            }

            return result;
        }

        private static IEnumerable<string> ListNames(string directory) =>
            Posix.TryGetStatus(directory, out var status) && status.Kind == UnixFileKind.Directory
                ? Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p))
                : [];

        private static string Join(string root, string relative) => relative.Length == 0 ? root : Path.Combine(root, relative);
    }
}
