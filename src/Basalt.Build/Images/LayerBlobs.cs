using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Oci.Store;

namespace Basalt.Build.Images;

/// <summary>Writes a gzip layer straight into the blob store (digest computed while writing, then committed).</summary>
public static class LayerBlobs
{
    public static readonly LayerWriteOptions Options = new();

    public static Task<(Descriptor Layer, Digest DiffId)> WriteAsync(BlobStore store, string workDirectory, string directory, CancellationToken cancellationToken) =>
        WriteCoreAsync(store, workDirectory, (writer, stream) => writer.WriteAsync(directory, stream, LayerCompression.Gzip, Options, cancellationToken));

    public static Task<(Descriptor Layer, Digest DiffId)> WriteDiffAsync(BlobStore store, string workDirectory, string lower, string upper, CancellationToken cancellationToken) =>
        WriteCoreAsync(store, workDirectory, (writer, stream) => writer.WriteDiffAsync(lower, upper, stream, LayerCompression.Gzip, Options, cancellationToken));

    private static async Task<(Descriptor Layer, Digest DiffId)> WriteCoreAsync(BlobStore store, string workDirectory, Func<LayerWriter, Stream, Task<LayerWriteResult>> write)
    {
        Directory.CreateDirectory(workDirectory);
        var temporary = Path.Combine(workDirectory, $"layer-{Guid.NewGuid():N}.tar.gz");
        try
        {
            LayerWriteResult result;
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                result = await write(new LayerWriter(), stream).ConfigureAwait(false);
            }

            store.CommitVerified(result.Digest, temporary);
            return (new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = result.Digest, Size = result.Size }, result.DiffId);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
