using System.Security.Cryptography;
using Basalt.Oci.Layers;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Store;

namespace Basalt.Oci.Images;

/// <summary>
/// <c>file:PATH</c>: a single layer tar (plain, gzip or zstd) presented as a one-layer image. The file is
/// hashed first and copied into the store only when the store does not have it yet.
/// </summary>
internal sealed class FileLayerProvider(string path, BlobStore store, PlatformSpec platform, IProgress<TransferUpdate>? progress) : IImageProvider
{
    private readonly string _path = Path.GetFullPath(path);

    public string Name => ImageSource.FilePrefix + _path;

    public string DefaultTag => ImageReference.DefaultTag;

    public long PreparedBytes { get; private set; }

    public bool BuildsLocally => true;

    public async Task<RawDocument> GetRootAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_path))
        {
            throw new ImageSourceNotFoundException(Name, "file");
        }

        var compression = CheckIsLayerTar();
        Digest digest;
        long size;
        await using (var file = OpenFile())
        {
            size = file.Length;
            digest = Digest.FromHash("sha256", await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
        }

        if (store.Contains(digest))
        {
            progress?.Report(new TransferUpdate(TransferPhase.Writing, digest, 0, size, TransferState.Skipped));
        }
        else
        {
            progress?.Report(new TransferUpdate(TransferPhase.Writing, digest, 0, size, TransferState.Running));
            await using var file = OpenFile();
            await store.PutAsync(file, digest, cancellationToken).ConfigureAwait(false);
            PreparedBytes += size;
            progress?.Report(new TransferUpdate(TransferPhase.Writing, digest, size, size, TransferState.Done));
        }

        var diffId = digest;
        if (compression != LayerCompression.None)
        {
            await using var decompressed = LayerDecompression.OpenDecompressed(store.OpenRead(digest), compression);
            diffId = Digest.FromHash("sha256", await SHA256.HashDataAsync(decompressed, cancellationToken).ConfigureAwait(false));
        }

        var mediaType = compression switch
        {
            LayerCompression.Gzip => MediaTypes.OciLayerGzip,
            LayerCompression.Zstd => MediaTypes.OciLayerZstd,
            _ => MediaTypes.OciLayer,
        };
        var layer = new Descriptor { MediaType = mediaType, Digest = digest, Size = size };
        var composed = ImageComposer.Compose(store, layer, diffId, platform, File.GetLastWriteTimeUtc(_path), null, $"basalt: file {Path.GetFileName(_path)}");
        return new RawDocument(composed.ManifestBytes, MediaTypes.OciManifest, composed.Manifest.Digest);
    }

    public Task<RawDocument> GetManifestAsync(Descriptor descriptor, CancellationToken cancellationToken) =>
        throw new InvalidManifestException("a file: image has no index");

    public Task FetchBlobAsync(Descriptor blob, BlobStore target, IProgress<long> progress, CancellationToken cancellationToken) =>
        throw new BlobNotFoundException(blob.Digest, target.Root);

    public void Dispose()
    {
    }

    private FileStream OpenFile() => new(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);

    /// <summary>A tar has "ustar" at offset 257 of its first header; checked after decompression.</summary>
    private LayerCompression CheckIsLayerTar()
    {
        using var file = OpenFile();
        var compression = LayerDecompression.Detect(file, string.Empty, Name);
        using var content = LayerDecompression.OpenDecompressed(file, compression);
        var header = new byte[512];
        var read = content.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read < 512 || !header.AsSpan(257, 5).SequenceEqual("ustar"u8))
        {
            throw new UnsupportedImageSourceException(
                Name,
                "is not a layer tar",
                "file: takes a tar of a root filesystem (plain, gzip or zstd); for a docker save or OCI layout tar use ocifile:");
        }

        return compression;
    }
}
