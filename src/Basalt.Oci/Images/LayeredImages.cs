using System.Text.Encodings.Web;
using System.Text.Json;
using Basalt.Oci.Layers;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Oci.Images;

/// <summary>An image pushed by <see cref="LayeredImages"/>: its manifest digest, its layers and the config it carries.</summary>
public sealed record PushedImage(string Reference, string Tag, Digest Digest, IReadOnlyList<Descriptor> Layers, Descriptor Config, ImageConfig ConfigDocument, long ManifestSize)
{
    /// <summary>Every byte a client fetches to have the whole image: layers, config and manifest.</summary>
    public long TotalBytes => Layers.Sum(layer => layer.Size) + Config.Size + ManifestSize;
}

/// <summary>
/// Images that grow by a layer at a time, made with Basalt's own OCI code and pushed to one repository: the first is a
/// directory as one gzip layer (<see cref="ImageService.PushDirectoryAsync"/>, its blobs kept in a store), each later
/// one is an earlier image plus a single layer written by <see cref="LayerWriter"/>: the shape of an OS upgrade that
/// changes a few files.
/// </summary>
public sealed class LayeredImages
{
    private static readonly OciJsonContext Writer = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private readonly IRegistryClient _registry;
    private readonly string _repository;
    private readonly string _workDirectory;
    private readonly TimeProvider _clock;

    /// <param name="repository">host:port/name the images are pushed to (as this host reaches the registry).</param>
    /// <param name="workDirectory">Where the extra layers are written before they are pushed.</param>
    public LayeredImages(IRegistryClient registry, string repository, string workDirectory, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentException.ThrowIfNullOrEmpty(workDirectory);
        _registry = registry;
        _repository = repository;
        _workDirectory = workDirectory;
        _clock = clock ?? TimeProvider.System;
        Directory.CreateDirectory(workDirectory);
    }

    public string Reference(string tag) => $"{_repository}:{tag}";

    /// <summary>Pushes <paramref name="tree"/> as one gzip layer; its blobs stay in <paramref name="store"/>.</summary>
    public async Task<PushedImage> PushTreeAsync(string tree, string tag, BlobStore store, IProgress<TransferUpdate>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var service = new ImageService(store, _registry, _clock);
        var pushed = await service.PushDirectoryAsync(tree, ImageReference.Parse(Reference(tag)), progress: progress, cancellationToken: cancellationToken).ConfigureAwait(false);
        var config = JsonSerializer.Deserialize(store.ReadAllBytes(pushed.Config.Digest), Writer.ImageConfig)
            ?? throw new InvalidImageConfigException($"the config {pushed.Config.Digest} of the image just pushed is empty");
        return new PushedImage(Reference(tag), tag, pushed.Digest, [pushed.Layer], pushed.Config, config, pushed.ManifestSize);
    }

    /// <summary>
    /// Pushes an image already whole in <paramref name="store"/> (its manifest <paramref name="manifestDigest"/>, config
    /// and layers, as <see cref="PushTreeAsync"/> left them) as <paramref name="tag"/>, byte for byte: nothing is
    /// written or compressed again, so the digest is the one pushed before.
    /// </summary>
    public async Task<PushedImage> PushStoredAsync(BlobStore store, Digest manifestDigest, string tag, IProgress<TransferUpdate>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var manifestBytes = store.ReadAllBytes(manifestDigest);
        var manifest = JsonSerializer.Deserialize(manifestBytes, Writer.ImageManifest)
            ?? throw new InvalidImageConfigException($"the manifest {manifestDigest} in {store.Root} is empty");
        var config = JsonSerializer.Deserialize(store.ReadAllBytes(manifest.Config.Digest), Writer.ImageConfig)
            ?? throw new InvalidImageConfigException($"the config {manifest.Config.Digest} in {store.Root} is empty");
        var target = ImageReference.Parse(Reference(tag));
        foreach (var blob in manifest.Layers.Append(manifest.Config))
        {
            await PushBlobAsync(target, blob, () => store.OpenRead(blob.Digest), progress, cancellationToken).ConfigureAwait(false);
        }

        var digest = await _registry.PushManifestAsync(target, manifestBytes, manifest.MediaType ?? MediaTypes.OciManifest, cancellationToken).ConfigureAwait(false);
        return new PushedImage(Reference(tag), tag, digest, manifest.Layers, manifest.Config, config, manifestBytes.LongLength);
    }

    /// <summary>Pushes <paramref name="parent"/>'s layers plus one layer holding <paramref name="layerTree"/> as <paramref name="tag"/>.</summary>
    public async Task<PushedImage> PushWithLayerAsync(PushedImage parent, string layerTree, string tag, string createdBy, IProgress<TransferUpdate>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentException.ThrowIfNullOrEmpty(layerTree);
        var layerPath = Path.Combine(_workDirectory, tag + ".layer.tar.gz");
        LayerWriteResult written;
        var output = new FileStream(layerPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await using (output.ConfigureAwait(false))
        {
            written = await new LayerWriter().WriteAsync(layerTree, output, LayerCompression.Gzip, null, cancellationToken).ConfigureAwait(false);
        }

        var layer = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = written.Digest, Size = written.Size };
        var created = _clock.GetUtcNow();
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

        var target = ImageReference.Parse(Reference(tag));
        await PushBlobAsync(target, layer, () => File.OpenRead(layerPath), progress, cancellationToken).ConfigureAwait(false);
        await PushBlobAsync(target, configDescriptor, () => new MemoryStream(configBytes, writable: false), progress, cancellationToken).ConfigureAwait(false);
        var digest = await _registry.PushManifestAsync(target, manifestBytes, MediaTypes.OciManifest, cancellationToken).ConfigureAwait(false);
        File.Delete(layerPath);
        return new PushedImage(Reference(tag), tag, digest, layers, configDescriptor, config, manifestBytes.LongLength);
    }

    private async Task PushBlobAsync(ImageReference target, Descriptor blob, Func<Stream> open, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(new TransferUpdate(TransferPhase.Pushing, blob.Digest, 0, blob.Size, TransferState.Running));
        var bytes = progress is null ? null : new InlineProgress(p => progress.Report(new TransferUpdate(TransferPhase.Pushing, blob.Digest, p, blob.Size, TransferState.Running)));
        await _registry.PushBlobAsync(target, blob, open, null, bytes, cancellationToken).ConfigureAwait(false);
        progress?.Report(new TransferUpdate(TransferPhase.Pushing, blob.Digest, blob.Size, blob.Size, TransferState.Done));
    }

    /// <summary>Reports on the caller's thread, in order (System.Progress would post to the thread pool).</summary>
    private sealed class InlineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
