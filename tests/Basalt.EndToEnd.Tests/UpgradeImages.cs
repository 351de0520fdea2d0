using System.Text.Encodings.Web;
using System.Text.Json;
using Basalt.Oci.Images;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.EndToEnd.Tests;

/// <summary>An image pushed for the upgrade scenario: its manifest digest, its layers and the config it carries.</summary>
public sealed record PushedImage(string Tag, Digest Digest, IReadOnlyList<Descriptor> Layers, Descriptor Config, ImageConfig ConfigDocument, long ManifestSize)
{
    public long TotalBytes => Layers.Sum(layer => layer.Size) + Config.Size + ManifestSize;
}

/// <summary>
/// Makes the scenario's images with Basalt's own OCI code and pushes them to a registry: v1 is the OS tree as one
/// layer (<see cref="ImageService.PushDirectoryAsync"/>, its blobs kept in a store that becomes the node's blob
/// store), and each later image is the one before plus a single small layer made by <see cref="LayerWriter"/>.
/// </summary>
public sealed class UpgradeImages
{
    private static readonly OciJsonContext Writer = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private readonly IRegistryClient _registry;
    private readonly string _repository;
    private readonly string _workDirectory;

    /// <param name="repository">host:port/name the images are pushed to (as the host sees the registry).</param>
    public UpgradeImages(IRegistryClient registry, string repository, string workDirectory)
    {
        _registry = registry;
        _repository = repository;
        _workDirectory = workDirectory;
        Directory.CreateDirectory(workDirectory);
    }

    /// <summary>Pushes <paramref name="tree"/> as one gzip layer; its blobs stay in <paramref name="store"/>.</summary>
    public async Task<PushedImage> PushTreeAsync(string tree, string tag, BlobStore store, CancellationToken cancellationToken = default)
    {
        var service = new ImageService(store, _registry);
        var pushed = await service.PushDirectoryAsync(tree, Reference(tag), cancellationToken: cancellationToken);
        var config = JsonSerializer.Deserialize(store.ReadAllBytes(pushed.Config.Digest), Writer.ImageConfig)
            ?? throw new InvalidOperationException("the pushed image has no config");
        return new PushedImage(tag, pushed.Digest, [pushed.Layer], pushed.Config, config, pushed.ManifestSize);
    }

    /// <summary>Pushes <paramref name="parent"/>'s layers plus one layer holding <paramref name="layerTree"/> as <paramref name="tag"/>.</summary>
    public async Task<PushedImage> PushWithLayerAsync(PushedImage parent, string layerTree, string tag, string createdBy, CancellationToken cancellationToken = default)
    {
        var layerPath = Path.Combine(_workDirectory, tag + ".layer.tar.gz");
        LayerWriteResult written;
        var output = new FileStream(layerPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await using (output)
        {
            written = await new LayerWriter().WriteAsync(layerTree, output, LayerCompression.Gzip, null, cancellationToken);
        }

        var layer = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = written.Digest, Size = written.Size };
        var created = DateTimeOffset.UtcNow;
        var config = parent.ConfigDocument with
        {
            Created = created,
            RootFs = new RootFs { DiffIds = [.. parent.ConfigDocument.RootFs.DiffIds, written.DiffId] },
            History = [.. parent.ConfigDocument.History ?? [], new HistoryEntry { Created = created, CreatedBy = createdBy }],
        };
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, Writer.ImageConfig);
        var configDescriptor = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Sha256(configBytes), Size = configBytes.LongLength };
        var layers = parent.Layers.Append(layer).ToList();
        var manifest = new ImageManifest { SchemaVersion = 2, MediaType = MediaTypes.OciManifest, Config = configDescriptor, Layers = layers };
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, Writer.ImageManifest);

        var target = Reference(tag);
        await _registry.PushBlobAsync(target, layer, () => File.OpenRead(layerPath), null, null, cancellationToken);
        await _registry.PushBlobAsync(target, configDescriptor, () => new MemoryStream(configBytes, writable: false), null, null, cancellationToken);
        var digest = await _registry.PushManifestAsync(target, manifestBytes, MediaTypes.OciManifest, cancellationToken);
        return new PushedImage(tag, digest, layers, configDescriptor, config, manifestBytes.LongLength);
    }

    private ImageReference Reference(string tag) => ImageReference.Parse($"{_repository}:{tag}");
}
