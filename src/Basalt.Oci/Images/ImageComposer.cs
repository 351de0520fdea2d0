using System.Text.Json;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.Store;

namespace Basalt.Oci.Images;

/// <summary>The config and manifest of a one-layer image Basalt makes itself, written into the store.</summary>
internal sealed record ComposedImage(Descriptor Layer, Descriptor Config, Descriptor Manifest, byte[] ManifestBytes);

internal static class ImageComposer
{
    public static ComposedImage Compose(
        BlobStore store,
        Descriptor layer,
        Digest diffId,
        PlatformSpec platform,
        DateTimeOffset? created,
        IReadOnlyDictionary<string, string>? labels,
        string createdBy)
    {
        var config = new ImageConfig
        {
            Created = created,
            Architecture = platform.Architecture,
            OS = platform.OS,
            Variant = platform.Variant,
            Config = labels is { Count: > 0 } ? new ContainerConfig { Labels = new SortedDictionary<string, string>(labels.ToDictionary(StringComparer.Ordinal), StringComparer.Ordinal) } : null,
            RootFs = new RootFs { DiffIds = [diffId] },
            History = [new HistoryEntry { Created = created, CreatedBy = createdBy }],
        };
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, Layout.LayoutJson.Writer.ImageConfig);
        var configDescriptor = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = store.Put(configBytes), Size = configBytes.LongLength };

        var manifest = new ImageManifest { SchemaVersion = 2, MediaType = MediaTypes.OciManifest, Config = configDescriptor, Layers = [layer] };
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, Layout.LayoutJson.Writer.ImageManifest);
        var manifestDescriptor = new Descriptor { MediaType = MediaTypes.OciManifest, Digest = store.Put(manifestBytes), Size = manifestBytes.LongLength };
        return new ComposedImage(layer, configDescriptor, manifestDescriptor, manifestBytes);
    }
}
