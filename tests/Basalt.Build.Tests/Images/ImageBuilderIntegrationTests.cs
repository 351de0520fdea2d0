using Basalt.Build.Images;
using Basalt.Build.Init;
using Basalt.Build.Tests.Init;
using Basalt.Oci.Layers;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Images;

[Collection(DebianRootfsCollection.Name)]
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class ImageBuilderIntegrationTests(DebianRootfsFixture fixture)
{
    [Fact]
    public async Task Build_image_adds_one_init_layer_on_top_of_the_base_layers()
    {
        Requires.Root();
        Requires.Tool("chroot", "coreutils");
        // The shared rootfs after init is the base here, so init over it only has to change os-release:
        // the test proves unpack → init → diff → compose without a second package installation.
        await fixture.InitializeRootAsync();
        using var temp = new TempDirectory("build-image");
        var store = new BlobStore(temp.Combine("store"));
        var tools = new ToolRunner();
        var baseLayer = await LayerBlobs.WriteAsync(store, temp.Combine("work"), fixture.Root, CancellationToken.None);
        var baseImage = ImageComposition.Compose(store, null, [baseLayer], "linux", "amd64", BaseImageBuilder.Created, new Dictionary<string, string> { ["base.label"] = "kept" }, "test base");

        var result = await new ImageBuilder(tools, new InitExecutor(tools)).BuildAsync(
            new ImageBuildRequest
            {
                Base = baseImage,
                BaseName = "test-base",
                WorkDirectory = temp.Combine("work"),
                Init = DebianRootfsFixture.InitOptionsFor("/") with { ImageReference = "registry.test/basalt/os:2" },
                Created = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            },
            store);

        var image = result.Image;
        Assert.Equal(2, image.Layers.Count);
        Assert.Equal(baseLayer.Layer.Digest, image.Layers[0].Digest);
        Assert.Equal(result.InitLayer.Digest, image.Layers[1].Digest);
        Assert.Equal(2, image.Config.RootFs.DiffIds.Count);
        var labels = image.Config.Config!.Labels!;
        Assert.Equal("9.9.9", labels[ImageBuilder.VersionLabel]);
        Assert.Equal(baseImage.Digest.Value, labels[ImageBuilder.BaseDigestLabel]);
        Assert.Equal("kept", labels["base.label"]);
        Assert.Contains(result.Init.Changes, c => c.Contains("os-release", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(temp.Combine("work")), p => Path.GetFileName(p).StartsWith("build-", StringComparison.Ordinal));

        // The new layer alone carries the change: applying it over the base gives the new os-release.
        var unpacked = temp.Combine("unpacked");
        var blobs = image.Layers.Select((l, i) => new LayerBlob(store.GetPath(l.Digest), l.MediaType, image.Config.RootFs.DiffIds[i])).ToList();
        await new LayerApplier().ApplyAsync(unpacked, blobs);
        var osRelease = OsRelease.Parse(File.ReadAllText(RootedPath.Resolve(unpacked, "/etc/os-release")));
        Assert.Equal("registry.test/basalt/os:2", osRelease.Get("BASALT_IMAGE_REF"));
        Assert.True(File.Exists(Path.Combine(unpacked, "boot", "initrd")));
        Assert.True(store.GetSize(result.InitLayer.Digest) < store.GetSize(baseLayer.Layer.Digest) / 10);
    }
}
