using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Basalt.Oci.Images;
using Basalt.Oci.Layout;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Store;
using Basalt.Oci.Tests.Layout;
using Basalt.Testing;
using static Basalt.Oci.Tests.Layout.LayoutFixtures;

namespace Basalt.Oci.Tests.Images;

public sealed class ImageServiceTests : IDisposable
{
    private readonly TempDirectory _temp = new("images");
    private readonly FakeRegistryClient _registry = new();
    private readonly BlobStore _store;
    private readonly ImageService _service;

    public ImageServiceTests()
    {
        _store = new BlobStore(_temp.Combine("cache"));
        _service = new ImageService(_store, _registry);
    }

    public void Dispose() => _temp.Dispose();

    private async Task<(string Path, Descriptor Manifest)> LayoutWithImageAsync(string tag = "v1", string content = "hello")
    {
        var path = _temp.Combine("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(path);
        return (path, await WriteImageAsync(layout, tag, content));
    }

    private sealed class Recorder : IProgress<TransferUpdate>
    {
        public List<TransferUpdate> Updates { get; } = [];

        public void Report(TransferUpdate value)
        {
            lock (Updates)
            {
                Updates.Add(value);
            }
        }
    }

    [Fact]
    public async Task A_second_pull_transfers_no_blob_bytes()
    {
        var (path, manifest) = await LayoutWithImageAsync();
        var source = ImageSource.Parse($"oci-layout:{path}:v1");
        var progress = new Recorder();

        var first = await _service.PullAsync(source, progress: progress);
        var second = await _service.PullAsync(source);

        Assert.Equal(manifest.Digest, first.Image.Digest);
        Assert.Equal(first.Image.Manifest.Config.Size + first.Image.Layers[0].Size, first.BytesTransferred);
        Assert.Equal(2, first.BlobsTransferred);
        Assert.Equal(0, second.BytesTransferred);
        Assert.Equal(0, second.BlobsTransferred);
        Assert.Equal(2, second.BlobsSkipped);
        Assert.True(_store.Contains(first.Image.Layers[0].Digest));
        Assert.True(_store.Contains(manifest.Digest));
        Assert.True(_store.TryGetReference($"oci-layout:{path}:v1", out var referenced));
        Assert.Equal(manifest.Digest, referenced);
        Assert.Contains(progress.Updates, u => u.Digest == first.Image.Layers[0].Digest && u.State == TransferState.Done);
    }

    [Fact]
    public async Task Inspect_fetches_the_config_but_no_layers()
    {
        var (path, _) = await LayoutWithImageAsync();

        var image = await _service.InspectAsync(ImageSource.Parse($"oci-layout:{path}:v1"));

        Assert.Equal("linux", image.Config.OS);
        Assert.Single(image.Layers);
        Assert.True(_store.Contains(image.Manifest.Config.Digest));
        Assert.False(_store.Contains(image.Layers[0].Digest));
    }

    [Fact]
    public async Task Unpack_applies_the_layers_into_the_directory()
    {
        var (path, _) = await LayoutWithImageAsync(content: "unpacked!");
        var target = _temp.Combine("rootfs");

        var result = await _service.UnpackAsync(ImageSource.Parse($"oci-layout:{path}:v1"), target);

        Assert.Equal("unpacked!", await System.IO.File.ReadAllTextAsync(Path.Combine(target, "hello.txt")));
        Assert.Equal(Path.GetFullPath(target), result.Target);
        Assert.True(result.EntriesApplied >= 1);
    }

    [Fact]
    public async Task Save_writes_a_layout_that_reads_back_under_the_tag()
    {
        var (path, manifest) = await LayoutWithImageAsync("v1");
        var saved = _temp.Combine("saved");

        var result = await _service.SaveAsync(ImageSource.Parse($"oci-layout:{path}:v1"), saved, "release");
        var again = await _service.SaveAsync(ImageSource.Parse($"oci-layout:{path}:v1"), saved, "release");

        Assert.Equal("release", result.Tag);
        Assert.Equal(0, again.BytesWritten);
        using var layout = OciLayoutDirectory.Open(saved);
        Assert.Equal(manifest.Digest, layout.Resolve("release").Descriptor.Digest);
        var reread = await new ImageService(new BlobStore(_temp.Combine("other-cache")), _registry).PullAsync(ImageSource.Parse($"oci-layout:{saved}:release"));
        Assert.Equal(manifest.Digest, reread.Image.Digest);
    }

    [Fact]
    public async Task Save_defaults_to_the_source_tag()
    {
        var (path, _) = await LayoutWithImageAsync("v7");

        var result = await _service.SaveAsync(ImageSource.Parse($"oci-layout:{path}:v7"), _temp.Combine("saved"));

        Assert.Equal("v7", result.Tag);
    }

    [Fact]
    public async Task A_docker_archive_pulls_and_unpacks()
    {
        var layer = LayerTar(("etc/os-release", "ID=docker"));
        var config = ConfigJson(Digest.Sha256(layer));
        var tar = _temp.Combine("docker.tar");
        WriteTar(
            tar,
            LayoutFixtures.File("manifest.json", """[{"Config":"c.json","RepoTags":["os:1"],"Layers":["l/layer.tar"]}]"""),
            LayoutFixtures.File("c.json", config),
            LayoutFixtures.File("l/layer.tar", layer));
        var target = _temp.Combine("rootfs");

        var result = await _service.UnpackAsync(ImageSource.Parse($"ocifile:{tar}"), target);

        Assert.Equal("ID=docker", await System.IO.File.ReadAllTextAsync(Path.Combine(target, "etc", "os-release")));
        Assert.Equal(Digest.Sha256(layer), result.Pull.Image.Layers[0].Digest);
    }

    [Fact]
    public async Task An_index_resolves_to_the_requested_platform()
    {
        var path = _temp.Combine("multi");
        using (var layout = OciLayoutDirectory.OpenOrCreate(path))
        {
            var amd = await WriteManifestAsync(layout, "amd64", "x86");
            var arm = await WriteManifestAsync(layout, "arm64", "arm");
            var index = new ImageIndex
            {
                MediaType = MediaTypes.OciIndex,
                Manifests =
                [
                    amd with { Platform = new OciPlatform { OS = "linux", Architecture = "amd64" } },
                    arm with { Platform = new OciPlatform { OS = "linux", Architecture = "arm64", Variant = "v8" } },
                ],
            };
            var indexDescriptor = await layout.WriteBlobAsync(MediaTypes.OciIndex, JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex));
            layout.SetManifest(indexDescriptor, "latest");
        }

        var source = ImageSource.Parse($"oci-layout:{path}");
        var arm64 = await _service.PullAsync(source, PlatformSpec.Parse("linux/arm64"));
        Assert.Equal("arm64", arm64.Image.Config.Architecture);
        Assert.NotNull(arm64.Image.IndexDigest);
        Assert.True(_store.TryGetReference($"oci-layout:{path}:latest", out var root));
        Assert.Equal(arm64.Image.IndexDigest, root);

        var error = await Assert.ThrowsAsync<PlatformNotFoundException>(() => _service.PullAsync(source, PlatformSpec.Parse("linux/s390x")));
        Assert.Contains("linux/amd64", error.Message, StringComparison.Ordinal);
    }

    private static async Task<Descriptor> WriteManifestAsync(OciLayoutDirectory layout, string architecture, string content)
    {
        var layer = await layout.WriteBlobAsync(MediaTypes.OciLayer, LayerTar(("arch", content)));
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(
            new ImageConfig { Architecture = architecture, OS = "linux", RootFs = new RootFs { DiffIds = [layer.Digest] } },
            OciJsonContext.Default.ImageConfig);
        var config = await layout.WriteBlobAsync(MediaTypes.OciConfig, configBytes);
        var manifest = new ImageManifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [layer] };
        return await layout.WriteBlobAsync(MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest));
    }

    [Fact]
    public async Task A_single_image_layout_with_an_explicit_platform_that_does_not_fit_is_refused()
    {
        var (path, _) = await LayoutWithImageAsync();

        await Assert.ThrowsAsync<PlatformNotFoundException>(() => _service.PullAsync(ImageSource.Parse($"oci-layout:{path}:v1"), PlatformSpec.Parse("linux/riscv64")));
    }

    [Fact]
    public async Task A_corrupted_layer_fails_and_leaves_nothing_in_the_store()
    {
        var (path, manifest) = await LayoutWithImageAsync();
        var parsed = JsonSerializer.Deserialize(await System.IO.File.ReadAllBytesAsync(Path.Combine(path, "blobs", "sha256", manifest.Digest.Hex)), OciJsonContext.Default.ImageManifest)!;
        var layerPath = Path.Combine(path, "blobs", "sha256", parsed.Layers[0].Digest.Hex);
        var bytes = await System.IO.File.ReadAllBytesAsync(layerPath);
        bytes[600] ^= 0xff;
        await System.IO.File.WriteAllBytesAsync(layerPath, bytes);

        await Assert.ThrowsAsync<DigestMismatchException>(() => _service.PullAsync(ImageSource.Parse($"oci-layout:{path}:v1")));

        Assert.False(_store.Contains(parsed.Layers[0].Digest));
        Assert.False(_store.TryGetReference($"oci-layout:{path}:v1", out _));
    }

    [Fact]
    public async Task Missing_sources_and_unknown_tags_are_typed_errors()
    {
        var (path, _) = await LayoutWithImageAsync("v1");

        await Assert.ThrowsAsync<ImageSourceNotFoundException>(() => _service.PullAsync(ImageSource.Parse($"oci-layout:{_temp.Combine("absent")}")));
        await Assert.ThrowsAsync<ImageSourceNotFoundException>(() => _service.PullAsync(ImageSource.Parse($"ocifile:{_temp.Combine("absent.tar")}")));
        await Assert.ThrowsAsync<ImageSourceNotFoundException>(() => _service.PullAsync(ImageSource.Parse($"file:{_temp.Combine("absent.tar")}")));
        await Assert.ThrowsAsync<ImageSourceNotFoundException>(() => _service.PullAsync(ImageSource.Parse($"dir:{_temp.Combine("absent")}")));
        var error = await Assert.ThrowsAsync<LayoutTagNotFoundException>(() => _service.PullAsync(ImageSource.Parse($"oci-layout:{path}:v2")));
        Assert.Equal("tags present: v1", error.Hint);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_layer_tar_file_is_a_one_layer_image(bool gzip)
    {
        var tar = LayerTar(("etc/motd", "from a file"));
        var path = _temp.Combine(gzip ? "layer.tar.gz" : "layer.tar");
        if (gzip)
        {
            await using var file = System.IO.File.Create(path);
            await using var compressor = new GZipStream(file, CompressionLevel.Fastest);
            await compressor.WriteAsync(tar);
        }
        else
        {
            await System.IO.File.WriteAllBytesAsync(path, tar);
        }

        var source = ImageSource.Parse($"file:{path}");
        var target = _temp.Combine("rootfs");
        var unpack = await _service.UnpackAsync(source, target, PlatformSpec.Parse("linux/arm64"));
        var again = await _service.PullAsync(source, PlatformSpec.Parse("linux/arm64"));

        Assert.Equal("from a file", await System.IO.File.ReadAllTextAsync(Path.Combine(target, "etc", "motd")));
        Assert.Equal(Digest.Sha256(tar), unpack.Pull.Image.Config.RootFs.DiffIds[0]);
        Assert.Equal(gzip ? MediaTypes.OciLayerGzip : MediaTypes.OciLayer, unpack.Pull.Image.Layers[0].MediaType);
        Assert.Equal("arm64", unpack.Pull.Image.Config.Architecture);
        Assert.True(unpack.Pull.BytesTransferred > 0);
        Assert.Equal(0, again.BytesTransferred);
        Assert.Equal(unpack.Pull.Image.Digest, again.Image.Digest);
    }

    [Fact]
    public async Task A_file_that_is_not_a_layer_tar_is_refused()
    {
        var path = _temp.Combine("disk.img");
        await System.IO.File.WriteAllBytesAsync(path, new byte[4096]);

        var error = await Assert.ThrowsAsync<UnsupportedImageSourceException>(() => _service.PullAsync(ImageSource.Parse($"file:{path}")));
        Assert.Contains("ocifile:", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_pushed_to_a_registry_pulls_back_and_unpacks_identically()
    {
        var source = _temp.Combine("tree");
        Directory.CreateDirectory(Path.Combine(source, "etc"));
        await System.IO.File.WriteAllTextAsync(Path.Combine(source, "etc", "hostname"), "basalt\n");
        System.IO.File.CreateSymbolicLink(Path.Combine(source, "hostname"), "etc/hostname");
        var clock = new FixedClock(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var pusher = new ImageService(_store, _registry, clock);
        var reference = ImageReference.Parse("localhost:5000/test/os:1.0");

        var pushed = await pusher.PushDirectoryAsync(source, reference, new Dictionary<string, string> { ["org.example.role"] = "edge" }, PlatformSpec.Parse("linux/amd64"));

        Assert.Equal(MediaTypes.OciLayerGzip, pushed.Layer.MediaType);
        Assert.Contains(pushed.Layer.Digest, _registry.Blobs);
        Assert.Contains(pushed.Config.Digest, _registry.Blobs);

        var freshStore = new BlobStore(_temp.Combine("fresh-cache"));
        var puller = new ImageService(freshStore, _registry);
        var target = _temp.Combine("rootfs");
        var unpacked = await puller.UnpackAsync(ImageSource.Parse("localhost:5000/test/os:1.0"), target);

        Assert.Equal(pushed.Digest, unpacked.Pull.Image.Digest);
        Assert.Equal(pushed.Layer.Size + pushed.Config.Size, unpacked.Pull.BytesTransferred);
        Assert.Equal("basalt\n", await System.IO.File.ReadAllTextAsync(Path.Combine(target, "etc", "hostname")));
        Assert.Equal("etc/hostname", new FileInfo(Path.Combine(target, "hostname")).LinkTarget);
        var config = unpacked.Pull.Image.Config;
        Assert.Equal(("linux", "amd64"), (config.OS, config.Architecture));
        Assert.Equal(clock.GetUtcNow(), config.Created);
        Assert.Equal("edge", config.Config!.Labels!["org.example.role"]);
        Assert.Equal("basalt push", Assert.Single(config.History!).CreatedBy);

        var downloadedBefore = _registry.BlobBytesDownloaded;
        var second = await puller.PullAsync(ImageSource.Parse("localhost:5000/test/os:1.0"));
        Assert.Equal(0, second.BytesTransferred);
        Assert.Equal(downloadedBefore, _registry.BlobBytesDownloaded);
    }

    [Fact]
    public async Task A_directory_source_is_a_one_layer_image()
    {
        var source = _temp.Combine("tree");
        Directory.CreateDirectory(source);
        await System.IO.File.WriteAllTextAsync(Path.Combine(source, "a.txt"), "A");

        var first = await _service.UnpackAsync(ImageSource.Parse($"dir:{source}"), _temp.Combine("out"));
        var second = await _service.PullAsync(ImageSource.Parse($"dir:{source}"));

        Assert.Equal("A", await System.IO.File.ReadAllTextAsync(_temp.Combine("out", "a.txt")));
        Assert.Equal(MediaTypes.OciLayer, first.Pull.Image.Layers[0].MediaType);
        Assert.Equal(first.Pull.Image.Digest, second.Image.Digest);
        Assert.Equal(0, second.BytesTransferred);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
