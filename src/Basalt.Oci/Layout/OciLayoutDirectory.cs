using System.Text.Json;
using Basalt.Oci.Model;
using Basalt.Platform;

namespace Basalt.Oci.Layout;

/// <summary>
/// An OCI image layout directory (image-spec image-layout.md): <c>oci-layout</c>, <c>index.json</c>
/// whose descriptors carry <c>org.opencontainers.image.ref.name</c> for tags, and <c>blobs/ALG/HEX</c>.
/// Blobs are written verified, through a temporary file and a rename; index.json is replaced atomically.
/// </summary>
public sealed class OciLayoutDirectory : IImageLayout
{
    public const string LayoutVersion = "1.0.0";

    private ImageIndex _index;

    private OciLayoutDirectory(string path, ImageIndex index)
    {
        Path = path;
        _index = index;
    }

    public string Path { get; }

    public string Location => Path;

    public IReadOnlyList<LayoutManifest> Manifests => LayoutJson.ManifestsOf(_index);

    /// <summary>Opens an existing layout; typed errors when it is not one.</summary>
    public static OciLayoutDirectory Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            throw new MalformedLayoutException(path, "no such directory", "give the directory an OCI layout was saved to");
        }

        var marker = System.IO.Path.Combine(full, "oci-layout");
        if (!File.Exists(marker))
        {
            throw new MalformedLayoutException(path, "not an OCI image layout (no 'oci-layout' file)");
        }

        CheckMarker(path, ReadSmallFile(marker, path, "oci-layout"));
        var indexPath = System.IO.Path.Combine(full, "index.json");
        if (!File.Exists(indexPath))
        {
            throw new MalformedLayoutException(path, "index.json is missing");
        }

        return new OciLayoutDirectory(full, LayoutJson.ReadIndex(path, ReadSmallFile(indexPath, path, "index.json")));
    }

    /// <summary>Opens the layout at <paramref name="path"/>, creating an empty one if nothing is there.</summary>
    public static OciLayoutDirectory OpenOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        if (File.Exists(System.IO.Path.Combine(full, "oci-layout")))
        {
            return Open(full);
        }

        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new MalformedLayoutException(path, "directory is not empty and is not an OCI image layout", "choose an empty or new directory");
        }

        Directory.CreateDirectory(System.IO.Path.Combine(full, "blobs", "sha256"));
        var marker = JsonSerializer.SerializeToUtf8Bytes(new OciLayoutMarker { ImageLayoutVersion = LayoutVersion }, LayoutJsonContext.Default.OciLayoutMarker);
        AtomicFile.WriteAllBytes(System.IO.Path.Combine(full, "oci-layout"), marker);
        var index = new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = [] };
        WriteIndex(full, index);
        return new OciLayoutDirectory(full, index);
    }

    public LayoutManifest Resolve(string? tag) => TagResolution.Resolve(Location, Manifests, tag);

    public string BlobPath(Digest digest) => System.IO.Path.Combine(Path, "blobs", digest.Algorithm, digest.Hex);

    public bool ContainsBlob(Digest digest) => File.Exists(BlobPath(digest));

    public Stream OpenBlob(Digest digest)
    {
        var path = BlobPath(digest);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        }
        catch (FileNotFoundException)
        {
            throw new LayoutBlobMissingException(Location, $"blob {digest}");
        }
        catch (DirectoryNotFoundException)
        {
            throw new LayoutBlobMissingException(Location, $"blob {digest}");
        }
    }

    /// <summary>
    /// Writes a blob from <paramref name="content"/>, verifying size and digest while streaming;
    /// a blob already present is not written again. Returns the bytes written (0 when skipped).
    /// </summary>
    public async Task<long> WriteBlobAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(content);
        var target = BlobPath(descriptor.Digest);
        if (File.Exists(target) && new FileInfo(target).Length == descriptor.Size)
        {
            return 0;
        }

        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        long written = 0;
        await AtomicFile.WriteAsync(
            target,
            async (output, ct) =>
            {
                using var hasher = descriptor.Digest.CreateHasher();
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    written += read;
                    if (written > descriptor.Size)
                    {
                        throw new LayoutBlobSizeException(descriptor.Digest, descriptor.Size, written);
                    }

                    hasher.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                }

                if (written != descriptor.Size)
                {
                    throw new LayoutBlobSizeException(descriptor.Digest, descriptor.Size, written);
                }

                var actual = Digest.FromHash(descriptor.Digest.Algorithm, hasher.GetHashAndReset());
                if (actual != descriptor.Digest)
                {
                    throw new DigestMismatchException(descriptor.Digest, actual, $"blob written to {Location}");
                }
            },
            cancellationToken).ConfigureAwait(false);
        return written;
    }

    /// <summary>Writes a small blob (manifest, config) held in memory; returns its descriptor.</summary>
    public async Task<Descriptor> WriteBlobAsync(string mediaType, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var descriptor = new Descriptor { MediaType = mediaType, Digest = Digest.Sha256(content), Size = content.LongLength };
        using var stream = new MemoryStream(content, writable: false);
        await WriteBlobAsync(descriptor, stream, cancellationToken).ConfigureAwait(false);
        return descriptor;
    }

    /// <summary>
    /// Lists <paramref name="manifest"/> in index.json, under <paramref name="tag"/> when given (taking the
    /// tag away from any other manifest that had it). The manifest blob must already be in the layout.
    /// </summary>
    public void SetManifest(Descriptor manifest, string? tag)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (!ContainsBlob(manifest.Digest))
        {
            throw new LayoutBlobMissingException(Location, $"manifest {manifest.Digest} (write the blob before listing it)");
        }

        var annotations = new Dictionary<string, string>(manifest.Annotations ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        annotations.Remove(LayoutAnnotations.RefName);
        if (tag is not null)
        {
            annotations[LayoutAnnotations.RefName] = tag;
        }

        var entry = manifest with { Annotations = annotations.Count == 0 ? null : annotations };
        var kept = _index.Manifests.Where(existing =>
        {
            var existingTag = existing.Annotations?.GetValueOrDefault(LayoutAnnotations.RefName);
            return tag is null
                ? !(existingTag is null && existing.Digest == manifest.Digest)
                : existingTag != tag;
        });
        var index = _index with { Manifests = [.. kept, entry] };
        WriteIndex(Path, index);
        _index = index;
    }

    public void Dispose()
    {
    }

    private static void WriteIndex(string directory, ImageIndex index)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(index, LayoutJson.Writer.ImageIndex);
        AtomicFile.WriteAllBytes(System.IO.Path.Combine(directory, "index.json"), bytes);
    }

    private static void CheckMarker(string location, byte[] content)
    {
        var marker = LayoutJson.Deserialize(location, "oci-layout", content, LayoutJsonContext.Default.OciLayoutMarker);
        if (!marker.ImageLayoutVersion.StartsWith("1.", StringComparison.Ordinal))
        {
            throw new MalformedLayoutException(location, $"unsupported imageLayoutVersion '{marker.ImageLayoutVersion}' (1.x is supported)");
        }
    }

    private static byte[] ReadSmallFile(string path, string location, string what)
    {
        using var stream = File.OpenRead(path);
        return LayoutJson.ReadSmall(stream, location, what);
    }

    internal static void CheckMarkerBytes(string location, byte[] content) => CheckMarker(location, content);
}
