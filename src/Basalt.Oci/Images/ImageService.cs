using Basalt.Oci.Layers;
using Basalt.Oci.Layout;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Oci.Images;

/// <summary>
/// The OCI engine's front door: gets an image from any <see cref="ImageSource"/> into the blob store
/// (blobs already there are never fetched again), inspects it, unpacks it, saves it as an OCI layout,
/// and makes and pushes an image from a directory.
/// </summary>
public sealed class ImageService
{
    /// <summary>Layers fetched at once; enough to fill a link, few enough not to thrash a small disk.</summary>
    private const int ParallelBlobs = 3;

    private readonly BlobStore _store;
    private readonly IRegistryClient _registry;
    private readonly TimeProvider _clock;

    public ImageService(BlobStore store, IRegistryClient registry, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(registry);
        _store = store;
        _registry = registry;
        _clock = clock ?? TimeProvider.System;
    }

    public BlobStore Store => _store;

    /// <summary>Resolves the image and fetches its manifest and config only (no layers).</summary>
    public async Task<ResolvedImage> InspectAsync(ImageSource source, PlatformSpec? platform = null, CancellationToken cancellationToken = default)
    {
        using var provider = OpenProvider(source, platform, null);
        var counter = new TransferCounter();
        return await ResolveAsync(provider, platform, counter, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Brings every blob of the image into the store and records the source's name for it. A second
    /// pull of an unchanged image transfers no blob bytes.
    /// </summary>
    public async Task<PullResult> PullAsync(ImageSource source, PlatformSpec? platform = null, IProgress<TransferUpdate>? progress = null, CancellationToken cancellationToken = default)
    {
        using var provider = OpenProvider(source, platform, progress);
        return await PullAsync(provider, platform, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pulls the image, then applies its layers into <paramref name="targetDirectory"/> (atomically).</summary>
    public async Task<UnpackResult> UnpackAsync(
        ImageSource source,
        string targetDirectory,
        PlatformSpec? platform = null,
        LayerApplyOptions? options = null,
        IProgress<TransferUpdate>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(targetDirectory);
        var pull = await PullAsync(source, platform, progress, cancellationToken).ConfigureAwait(false);
        var image = pull.Image;
        var layers = LayerBlobs(image);
        var applyProgress = progress is null ? null : new ApplyProgressAdapter(image.Layers, progress);
        var result = await new LayerApplier().ApplyAsync(targetDirectory, layers, options, applyProgress, cancellationToken).ConfigureAwait(false);
        return new UnpackResult(pull, result.Target, result.EntriesApplied, result.Warnings);
    }

    /// <summary>
    /// Pulls the image, then applies onto <paramref name="tree"/> only the layers above the ones it already holds:
    /// <paramref name="treeChainId"/> is the chain ID (<see cref="LayerChain"/>) of the layers the tree was unpacked
    /// from, and must be a prefix of the image's layers (else <see cref="LayerChainMismatchException"/>, before the tree
    /// is touched). In place, not atomic (<see cref="LayerApplier.ApplyInPlaceAsync"/>): the caller owns the tree and
    /// discards it on failure.
    /// </summary>
    public async Task<UnpackResult> UnpackOntoAsync(
        ImageSource source,
        string tree,
        Digest treeChainId,
        PlatformSpec? platform = null,
        LayerApplyOptions? options = null,
        IProgress<TransferUpdate>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tree);
        var pull = await PullAsync(source, platform, progress, cancellationToken).ConfigureAwait(false);
        var image = pull.Image;
        var reused = LayerChain.PrefixLength(image.Config.RootFs.DiffIds, treeChainId);
        if (reused == 0)
        {
            throw new LayerChainMismatchException(image.Name, treeChainId);
        }

        var layers = LayerBlobs(image).Skip(reused).ToList();
        var applyProgress = progress is null ? null : new ApplyProgressAdapter([.. image.Layers.Skip(reused)], progress);
        var result = await new LayerApplier().ApplyInPlaceAsync(tree, layers, options, applyProgress, cancellationToken).ConfigureAwait(false);
        return new UnpackResult(pull, result.Target, result.EntriesApplied, result.Warnings) { LayersReused = reused };
    }

    /// <summary>
    /// Streams the layers of <paramref name="image"/>, which a pull brought into the store, into <paramref name="target"/>
    /// (a filesystem image being written, say): each layer is read once, with no tree on disk. Not atomic: the caller
    /// discards the target on failure.
    /// </summary>
    public async Task<LayerStreamResult> StreamAsync(
        ResolvedImage image,
        ILayerEntryTarget target,
        IProgress<TransferUpdate>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(target);
        var applyProgress = progress is null ? null : new ApplyProgressAdapter(image.Layers, progress);
        return await new LayerStreamApplier().ApplyAsync(LayerBlobs(image), target, applyProgress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Pulls the image and writes it into the OCI layout at <paramref name="layoutDirectory"/> (created
    /// if absent) under <paramref name="tag"/> (default: the source's tag, else latest).
    /// </summary>
    public async Task<SaveResult> SaveAsync(
        ImageSource source,
        string layoutDirectory,
        string? tag = null,
        PlatformSpec? platform = null,
        IProgress<TransferUpdate>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(layoutDirectory);
        using var provider = OpenProvider(source, platform, progress);
        var pull = await PullAsync(provider, platform, progress, cancellationToken).ConfigureAwait(false);
        var image = pull.Image;
        tag ??= provider.DefaultTag;
        using var layout = OciLayoutDirectory.OpenOrCreate(layoutDirectory);
        long written = 0;
        foreach (var blob in image.Layers.Prepend(image.Manifest.Config))
        {
            if (layout.ContainsBlob(blob.Digest))
            {
                progress?.Report(new TransferUpdate(TransferPhase.Writing, blob.Digest, 0, blob.Size, TransferState.Skipped));
                continue;
            }

            var stream = _store.OpenRead(blob.Digest);
            await using (stream.ConfigureAwait(false))
            {
                var counting = new CountingReadStream(stream, new Progress(p => progress?.Report(new TransferUpdate(TransferPhase.Writing, blob.Digest, p, blob.Size, TransferState.Running))));
                written += await layout.WriteBlobAsync(blob, counting, cancellationToken).ConfigureAwait(false);
            }

            progress?.Report(new TransferUpdate(TransferPhase.Writing, blob.Digest, blob.Size, blob.Size, TransferState.Done));
        }

        var manifest = await layout.WriteBlobAsync(image.MediaType, _store.ReadAllBytes(image.Digest), cancellationToken).ConfigureAwait(false);
        layout.SetManifest(manifest, tag);
        return new SaveResult(image, layout.Path, tag, written);
    }

    /// <summary>
    /// Copies a pulled image (its index when it has one, manifest, config and layers) from this service's store into
    /// <paramref name="target"/>, verified, and names it there as <see cref="ResolvedImage.Name"/>: e.g. the blob store a
    /// node gets on its disk, so its first upgrade fetches only what a new image adds. Returns the bytes copied (blobs
    /// the target already holds are not copied again).
    /// </summary>
    public async Task<long> CopyToStoreAsync(ResolvedImage image, BlobStore target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(target);
        var blobs = new List<Digest> { image.Digest, image.Manifest.Config.Digest };
        if (image.IndexDigest is { } index)
        {
            blobs.Insert(0, index);
        }

        blobs.AddRange(image.Layers.Select(layer => layer.Digest));
        long copied = 0;
        foreach (var digest in blobs.Distinct().Where(digest => !target.Contains(digest)))
        {
            var source = _store.OpenRead(digest);
            await using (source.ConfigureAwait(false))
            {
                await target.PutAsync(source, digest, cancellationToken).ConfigureAwait(false);
            }

            copied += target.GetSize(digest) ?? 0;
        }

        target.SetReference(image.Name, image.RootDigest);
        return copied;
    }

    /// <summary>
    /// Makes an image of <paramref name="directory"/> (one gzip layer; config with os/arch/created/labels,
    /// diff_ids and history; an OCI manifest) and pushes it: blobs first, then the manifest. The blobs
    /// stay in the store, so pulling the image back afterwards transfers nothing.
    /// </summary>
    public async Task<PushResult> PushDirectoryAsync(
        string directory,
        ImageReference target,
        IReadOnlyDictionary<string, string>? labels = null,
        PlatformSpec? platform = null,
        IProgress<TransferUpdate>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(target);
        if (!Directory.Exists(directory))
        {
            throw new ImageSourceNotFoundException(directory, "directory");
        }

        var (layer, diffId, _) = await LayerBuilder.BuildAsync(_store, Path.GetFullPath(directory), LayerCompression.Gzip, cancellationToken).ConfigureAwait(false);
        var composed = ImageComposer.Compose(_store, layer, diffId, platform ?? PlatformSpec.Current, _clock.GetUtcNow(), labels, "basalt push");
        foreach (var blob in new[] { composed.Layer, composed.Config })
        {
            progress?.Report(new TransferUpdate(TransferPhase.Pushing, blob.Digest, 0, blob.Size, TransferState.Running));
            var bytes = new Progress(p => progress?.Report(new TransferUpdate(TransferPhase.Pushing, blob.Digest, p, blob.Size, TransferState.Running)));
            await _registry.PushBlobAsync(target, blob, () => _store.OpenRead(blob.Digest), null, bytes, cancellationToken).ConfigureAwait(false);
            progress?.Report(new TransferUpdate(TransferPhase.Pushing, blob.Digest, blob.Size, blob.Size, TransferState.Done));
        }

        var digest = await _registry.PushManifestAsync(target, composed.ManifestBytes, MediaTypes.OciManifest, cancellationToken).ConfigureAwait(false);
        _store.SetReference(target.ToString(), digest);
        return new PushResult(target.ToString(), digest, composed.Layer, composed.Config, composed.ManifestBytes.LongLength);
    }

    /// <summary>The image's layers as blobs in the store, each with the diff_id its config names.</summary>
    private List<LayerBlob> LayerBlobs(ResolvedImage image) =>
        [.. image.Layers.Select((layer, i) => new LayerBlob(_store.GetPath(layer.Digest), layer.MediaType, image.Config.RootFs.DiffIds[i]))];

    private IImageProvider OpenProvider(ImageSource source, PlatformSpec? platform, IProgress<TransferUpdate>? progress)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source switch
        {
            RegistrySource registry => new RegistryProvider(_registry, registry.Reference),
            OciLayoutSource layout => new LayoutProvider(
                OpenLayoutDirectory(source, layout.Directory),
                $"{ImageSource.LayoutPrefix}{Path.GetFullPath(layout.Directory)}:{layout.Tag}",
                layout.Tag),
            ArchiveSource archive => new LayoutProvider(
                OpenArchive(source, archive.Path),
                ImageSource.ArchivePrefix + Path.GetFullPath(archive.Path),
                null),
            FileSource file => new FileLayerProvider(file.Path, _store, platform ?? PlatformSpec.Current, progress),
            DirectorySource directory => new DirectoryProvider(directory.Path, _store, platform ?? PlatformSpec.Current, progress),
            _ => throw new UnsupportedImageSourceException(source.ToString(), "this kind of source cannot be read as an image"),
        };
    }

    private static OciLayoutDirectory OpenLayoutDirectory(ImageSource source, string directory) =>
        Directory.Exists(directory) ? OciLayoutDirectory.Open(directory) : throw new ImageSourceNotFoundException(source.ToString(), "layout directory");

    private static IImageLayout OpenArchive(ImageSource source, string path) =>
        File.Exists(path) ? ImageArchive.Open(path) : throw new ImageSourceNotFoundException(source.ToString(), "archive");

    private async Task<PullResult> PullAsync(IImageProvider provider, PlatformSpec? platform, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        var counter = new TransferCounter();
        var image = await ResolveAsync(provider, platform, counter, progress, cancellationToken).ConfigureAwait(false);
        var distinct = image.Layers.DistinctBy(l => l.Digest).ToList();
        await Parallel.ForEachAsync(
            distinct,
            new ParallelOptions { MaxDegreeOfParallelism = ParallelBlobs, CancellationToken = cancellationToken },
            async (layer, ct) => await EnsureBlobAsync(provider, layer, counter, progress, ct).ConfigureAwait(false)).ConfigureAwait(false);

        _store.SetReference(provider.Name, image.RootDigest);
        return new PullResult(image, counter.Bytes + provider.PreparedBytes, counter.Transferred, counter.Skipped);
    }

    private async Task<ResolvedImage> ResolveAsync(IImageProvider provider, PlatformSpec? platform, TransferCounter counter, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        var root = await provider.GetRootAsync(cancellationToken).ConfigureAwait(false);
        var document = ManifestParser.Parse(root.Content, root.MediaType);
        CheckDigest(root, document);
        StoreDocument(root);

        Digest? indexDigest = null;
        var wanted = platform ?? PlatformSpec.Current;
        if (document is ImageIndexDocument index)
        {
            indexDigest = index.Digest;
            var chosen = PlatformSelector.Select(index.Index, wanted);
            var child = await provider.GetManifestAsync(chosen, cancellationToken).ConfigureAwait(false);
            document = ManifestParser.Parse(child.Content, child.MediaType ?? chosen.MediaType);
            CheckDigest(child, document);
            if (document is not ImageManifestDocument)
            {
                throw new InvalidManifestException($"index entry {chosen.Digest} is not an image manifest");
            }

            StoreDocument(child);
        }

        var manifest = (ImageManifestDocument)document;
        await EnsureBlobAsync(provider, manifest.Manifest.Config, counter, progress, cancellationToken).ConfigureAwait(false);
        var config = ConfigParser.Parse(_store.ReadAllBytes(manifest.Manifest.Config.Digest), manifest.Manifest.Config);
        config.EnsureMatches(manifest.Manifest);

        var image = new ResolvedImage(provider.Name, manifest.Digest, manifest.MediaType, manifest.Size, indexDigest, manifest.Manifest, config);
        if (platform is not null && indexDigest is null && !platform.Accepts(image.Platform))
        {
            throw new PlatformNotFoundException(platform, [image.Platform.ToString()]);
        }

        return image;
    }

    private static void CheckDigest(RawDocument raw, ManifestDocument parsed)
    {
        if (raw.Digest != parsed.Digest)
        {
            throw new DigestMismatchException(raw.Digest, parsed.Digest, "manifest");
        }
    }

    private void StoreDocument(RawDocument document)
    {
        if (!_store.Contains(document.Digest))
        {
            _store.Put(document.Content);
        }
    }

    private async Task EnsureBlobAsync(IImageProvider provider, Descriptor blob, TransferCounter counter, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        if (_store.Contains(blob.Digest))
        {
            counter.Skip();
            if (provider.BuildsLocally)
            {
                return; // the provider reported writing it
            }

            progress?.Report(new TransferUpdate(TransferPhase.Pulling, blob.Digest, 0, blob.Size, TransferState.Skipped));
            return;
        }

        progress?.Report(new TransferUpdate(TransferPhase.Pulling, blob.Digest, 0, blob.Size, TransferState.Running));
        var bytes = new Progress(p => progress?.Report(new TransferUpdate(TransferPhase.Pulling, blob.Digest, p, blob.Size, TransferState.Running)));
        await provider.FetchBlobAsync(blob, _store, bytes, cancellationToken).ConfigureAwait(false);
        counter.Transfer(blob.Size);
        progress?.Report(new TransferUpdate(TransferPhase.Pulling, blob.Digest, blob.Size, blob.Size, TransferState.Done));
    }

    /// <summary>Synchronous IProgress (Progress&lt;T&gt; would post to a thread pool and reorder updates).</summary>
    private sealed class Progress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    private sealed class TransferCounter
    {
        private long _bytes;
        private int _transferred;
        private int _skipped;

        public long Bytes => Interlocked.Read(ref _bytes);
        public int Transferred => Volatile.Read(ref _transferred);
        public int Skipped => Volatile.Read(ref _skipped);

        public void Transfer(long bytes)
        {
            Interlocked.Add(ref _bytes, bytes);
            Interlocked.Increment(ref _transferred);
        }

        public void Skip() => Interlocked.Increment(ref _skipped);
    }

    private sealed class ApplyProgressAdapter(IReadOnlyList<Descriptor> layers, IProgress<TransferUpdate> progress) : IProgress<LayerApplyProgress>
    {
        public void Report(LayerApplyProgress value)
        {
            var layer = layers[value.LayerIndex];
            progress.Report(new TransferUpdate(
                TransferPhase.Unpacking,
                layer.Digest,
                value.CompressedBytesRead,
                value.CompressedSize,
                value.LayerCompleted ? TransferState.Done : TransferState.Running));
        }
    }
}
