using Basalt.Oci.Layout;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Build.Images;

/// <summary>Where a built image went.</summary>
public sealed record PublishResult(string Destination, Digest Digest);

/// <summary>Sends an image built into the blob store to a registry.</summary>
public static class ImagePublisher
{
    /// <summary>
    /// Pushes the blobs the registry lacks (config, then layers), then the manifest under the target's tag;
    /// the store remembers the target name so the image is found again by it.
    /// </summary>
    public static async Task<PublishResult> PushAsync(BlobStore store, BuiltImage image, IRegistryClient registry, ImageReference target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(target);
        foreach (var blob in image.Layers.Prepend(image.ImageManifest.Config).DistinctBy(b => b.Digest))
        {
            await registry.PushBlobAsync(target, blob, () => store.OpenRead(blob.Digest), null, null, cancellationToken).ConfigureAwait(false);
        }

        var digest = await registry.PushManifestAsync(target, store.ReadAllBytes(image.Digest), image.Manifest.MediaType, cancellationToken).ConfigureAwait(false);
        store.SetReference(target.ToString(), digest);
        return new PublishResult(target.ToString(), digest);
    }

    /// <summary>
    /// Writes the image into the OCI layout at <paramref name="layoutDirectory"/> (created if absent) under
    /// <paramref name="tag"/>; blobs already in the layout are not written again.
    /// </summary>
    public static async Task<PublishResult> WriteLayoutAsync(BlobStore store, BuiltImage image, string layoutDirectory, string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(layoutDirectory);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        using var layout = OciLayoutDirectory.OpenOrCreate(layoutDirectory);
        foreach (var blob in image.Layers.Prepend(image.ImageManifest.Config).DistinctBy(b => b.Digest))
        {
            if (layout.ContainsBlob(blob.Digest))
            {
                continue;
            }

            var stream = store.OpenRead(blob.Digest);
            await using (stream.ConfigureAwait(false))
            {
                await layout.WriteBlobAsync(blob, stream, cancellationToken).ConfigureAwait(false);
            }
        }

        var manifest = await layout.WriteBlobAsync(image.Manifest.MediaType, store.ReadAllBytes(image.Digest), cancellationToken).ConfigureAwait(false);
        layout.SetManifest(manifest, tag);
        return new PublishResult($"oci-layout:{layout.Path}:{tag}", manifest.Digest);
    }
}
