using System.Text.Json;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.Store;

namespace Basalt.Build.Images;

/// <summary>An image whose manifest, config and layers are all in the blob store.</summary>
public sealed record BuiltImage(Descriptor Manifest, ImageManifest ImageManifest, ImageConfig Config)
{
    public Digest Digest => Manifest.Digest;

    public IReadOnlyList<Descriptor> Layers => ImageManifest.Layers;

    /// <summary>An image the image service pulled (every blob is in its store now).</summary>
    public static BuiltImage From(Oci.Images.ResolvedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new BuiltImage(new Descriptor { MediaType = image.MediaType, Digest = image.Digest, Size = image.ManifestSize }, image.Manifest, image.Config);
    }

    /// <summary>Reads an image back from the store by its manifest digest.</summary>
    public static BuiltImage Load(BlobStore store, Digest manifestDigest)
    {
        ArgumentNullException.ThrowIfNull(store);
        var bytes = store.ReadAllBytes(manifestDigest);
        if (ManifestParser.Parse(bytes, MediaTypes.OciManifest) is not ImageManifestDocument document)
        {
            throw new InvalidOperationException($"blob {manifestDigest} is an index, not an image manifest");
        }

        var config = ConfigParser.Parse(store.ReadAllBytes(document.Manifest.Config.Digest), document.Manifest.Config);
        return new BuiltImage(document.ToDescriptor(), document.Manifest, config);
    }
}

/// <summary>
/// Writes the config and manifest of an image made of a base's layers plus new ones. The JSON is
/// source-generated and the inputs fully decide it, so equal inputs give the same digest.
/// </summary>
public static class ImageComposition
{
    public static BuiltImage Compose(
        BlobStore store,
        BuiltImage? baseImage,
        IReadOnlyList<(Descriptor Layer, Digest DiffId)> newLayers,
        string os,
        string architecture,
        DateTimeOffset created,
        IReadOnlyDictionary<string, string> labels,
        string createdBy)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(newLayers);
        ArgumentNullException.ThrowIfNull(labels);
        var mergedLabels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in baseImage?.Config.Config?.Labels ?? new Dictionary<string, string>())
        {
            mergedLabels[key] = value;
        }

        foreach (var (key, value) in labels)
        {
            mergedLabels[key] = value;
        }

        var history = new List<HistoryEntry>(baseImage?.Config.History ?? []);
        history.AddRange(newLayers.Select(_ => new HistoryEntry { Created = created, CreatedBy = createdBy }));
        var baseConfig = baseImage?.Config.Config ?? new ContainerConfig();
        var config = new ImageConfig
        {
            Created = created,
            Architecture = baseImage?.Config.Architecture ?? architecture,
            OS = baseImage?.Config.OS ?? os,
            Variant = baseImage?.Config.Variant,
            Config = baseConfig with { Labels = mergedLabels },
            RootFs = new RootFs { DiffIds = [.. baseImage?.Config.RootFs.DiffIds ?? [], .. newLayers.Select(l => l.DiffId)] },
            History = history,
        };
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Default.ImageConfig);
        var configDescriptor = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = store.Put(configBytes), Size = configBytes.LongLength };

        var manifest = new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = configDescriptor,
            Layers = [.. (baseImage?.Layers ?? []).Select(AsOciLayer), .. newLayers.Select(l => l.Layer)],
        };
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest);
        var manifestDescriptor = new Descriptor { MediaType = MediaTypes.OciManifest, Digest = store.Put(manifestBytes), Size = manifestBytes.LongLength };
        return new BuiltImage(manifestDescriptor, manifest, config);
    }

    /// <summary>Docker and OCI gzip layers are the same bytes; an OCI manifest names them the OCI way.</summary>
    private static Descriptor AsOciLayer(Descriptor layer) => layer.MediaType switch
    {
        MediaTypes.DockerLayerGzip => layer with { MediaType = MediaTypes.OciLayerGzip },
        _ => layer,
    };
}
