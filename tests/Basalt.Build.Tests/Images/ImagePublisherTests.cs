using Basalt.Build.Images;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Testing;

namespace Basalt.Build.Tests.Images;

public sealed class ImagePublisherTests
{
    /// <summary>Keeps what was pushed, as a registry would.</summary>
    private sealed class RecordingRegistry : IRegistryClient
    {
        public Dictionary<Digest, byte[]> Blobs { get; } = [];
        public List<string> Order { get; } = [];
        public (ImageReference Reference, byte[] Content, string MediaType)? Manifest { get; private set; }

        public Task PingAsync(string registry, CancellationToken ct) => Task.CompletedTask;
        public Task<ManifestResponse> GetManifestAsync(ImageReference reference, CancellationToken ct) => throw new InvalidOperationException("not used");
        public Task<Digest> ResolveDigestAsync(ImageReference reference, CancellationToken ct) => throw new InvalidOperationException("not used");
        public Task DownloadBlobAsync(ImageReference repository, Descriptor blob, string partialPath, IProgress<long>? progress, CancellationToken ct) => throw new InvalidOperationException("not used");
        public Task<bool> BlobExistsAsync(ImageReference repository, Digest digest, CancellationToken ct) => Task.FromResult(Blobs.ContainsKey(digest));
        public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference repository, CancellationToken ct) => throw new InvalidOperationException("not used");

        public async Task PushBlobAsync(ImageReference repository, Descriptor blob, Func<Stream> openContent, ImageReference? mountFrom, IProgress<long>? progress, CancellationToken ct)
        {
            using var stream = openContent();
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, ct);
            Blobs[blob.Digest] = copy.ToArray();
            Order.Add(blob.Digest.Value);
        }

        public Task<Digest> PushManifestAsync(ImageReference reference, byte[] content, string mediaType, CancellationToken ct)
        {
            Manifest = (reference, content, mediaType);
            Order.Add("manifest");
            return Task.FromResult(Digest.Sha256(content));
        }
    }

    [Fact]
    public async Task Push_sends_every_blob_before_the_manifest_and_names_the_image_in_the_store()
    {
        using var temp = new TempDirectory("publish");
        var store = new BlobStore(temp.Path);
        var layerBytes = "layer"u8.ToArray();
        var layer = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = store.Put(layerBytes), Size = layerBytes.Length };
        var image = ImageComposition.Compose(store, null, [(layer, Digest.Sha256("tar"u8))], "linux", "amd64", BaseImageBuilder.Created, new Dictionary<string, string>(), "test");
        var registry = new RecordingRegistry();
        var target = ImageReference.Parse("registry.test:5000/basalt/os:1");

        var result = await ImagePublisher.PushAsync(store, image, registry, target);

        Assert.Equal(image.Digest, result.Digest);
        Assert.Equal("manifest", registry.Order[^1]);
        Assert.Equal(layerBytes, registry.Blobs[layer.Digest]);
        Assert.True(registry.Blobs.ContainsKey(image.ImageManifest.Config.Digest));
        Assert.Equal(store.ReadAllBytes(image.Digest), registry.Manifest!.Value.Content);
        Assert.Equal(MediaTypes.OciManifest, registry.Manifest.Value.MediaType);
        Assert.True(store.TryGetReference(target.ToString(), out var named));
        Assert.Equal(image.Digest, named);
    }
}
