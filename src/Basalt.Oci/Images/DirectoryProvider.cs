using Basalt.Oci.Layers;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Store;

namespace Basalt.Oci.Images;

/// <summary>
/// <c>dir:PATH</c>: a directory tree taken as a root filesystem, presented as a one-layer image whose
/// layer (an uncompressed, deterministic tar) is written into the store.
/// </summary>
internal sealed class DirectoryProvider(string path, BlobStore store, PlatformSpec platform, IProgress<TransferUpdate>? progress) : IImageProvider
{
    private readonly string _path = Path.GetFullPath(path);

    public string Name => ImageSource.DirectoryPrefix + _path;

    public string DefaultTag => ImageReference.DefaultTag;

    public long PreparedBytes { get; private set; }

    public bool BuildsLocally => true;

    public async Task<RawDocument> GetRootAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_path))
        {
            throw new ImageSourceNotFoundException(Name, "directory");
        }

        var (layer, diffId, written) = await LayerBuilder.BuildAsync(store, _path, LayerCompression.None, cancellationToken).ConfigureAwait(false);
        PreparedBytes += written;
        progress?.Report(new TransferUpdate(TransferPhase.Writing, layer.Digest, written, layer.Size, written > 0 ? TransferState.Done : TransferState.Skipped));
        var composed = ImageComposer.Compose(store, layer, diffId, platform, null, null, $"basalt: directory {_path}");
        return new RawDocument(composed.ManifestBytes, MediaTypes.OciManifest, composed.Manifest.Digest);
    }

    public Task<RawDocument> GetManifestAsync(Descriptor descriptor, CancellationToken cancellationToken) =>
        throw new InvalidManifestException("a dir: image has no index");

    public Task FetchBlobAsync(Descriptor blob, BlobStore target, IProgress<long> progress, CancellationToken cancellationToken) =>
        throw new BlobNotFoundException(blob.Digest, target.Root);

    public void Dispose()
    {
    }
}

/// <summary>Writes a directory as a layer blob straight into the store (temporary file, then rename).</summary>
internal static class LayerBuilder
{
    /// <returns>The layer's descriptor, its diff_id, and the bytes newly stored (0 when the store had it).</returns>
    public static async Task<(Descriptor Layer, Digest DiffId, long Written)> BuildAsync(BlobStore store, string directory, LayerCompression compression, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(store.Root);
        var temporary = Path.Combine(store.Root, $".layer-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        try
        {
            LayerWriteResult result;
            var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (output.ConfigureAwait(false))
            {
                result = await new LayerWriter().WriteAsync(directory, output, compression, null, cancellationToken).ConfigureAwait(false);
            }

            long written = 0;
            if (store.Contains(result.Digest))
            {
                File.Delete(temporary);
            }
            else
            {
                store.CommitVerified(result.Digest, temporary);
                written = result.Size;
            }

            var mediaType = compression switch
            {
                LayerCompression.Gzip => MediaTypes.OciLayerGzip,
                LayerCompression.Zstd => MediaTypes.OciLayerZstd,
                _ => MediaTypes.OciLayer,
            };
            return (new Descriptor { MediaType = mediaType, Digest = result.Digest, Size = result.Size }, result.DiffId, written);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
