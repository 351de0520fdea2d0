using Basalt.Build.Base;
using Basalt.Build.Images;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Images;

public sealed class BaseImageBuilderTests
{
    private static readonly BaseImageSpec Spec = new() { Mirror = new Uri("http://mirror.test/debian") };

    /// <summary>A cached "debootstrap" tree where the builder looks for it, so no debootstrap runs.</summary>
    private static string SeedRootfs(string cache)
    {
        var rootfs = DebootstrapBaseBuilder.RootfsPath(cache, Spec);
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        Directory.CreateDirectory(Path.Combine(rootfs, "usr", "bin"));
        File.WriteAllText(Path.Combine(rootfs, "etc", "os-release"), "ID=debian\n");
        File.WriteAllText(Path.Combine(rootfs, "usr", "bin", "tool"), "#!/bin/sh\n");
        var when = new DateTimeOffset(2023, 5, 6, 7, 8, 9, TimeSpan.Zero);
        foreach (var path in Directory.EnumerateFileSystemEntries(rootfs, "*", SearchOption.AllDirectories).Append(rootfs))
        {
            Posix.SetTimes(path, when, when);
        }

        return rootfs;
    }

    [Fact]
    public async Task The_base_is_one_layer_with_a_fixed_date_and_labels_and_a_second_build_is_the_cached_one()
    {
        using var temp = new TempDirectory("base-image");
        var cache = temp.Combine("cache");
        SeedRootfs(cache);
        var store = new BlobStore(temp.Combine("store"));
        var builder = new BaseImageBuilder(new DebootstrapBaseBuilder(new ToolRunner()));

        var first = await builder.BuildAsync(Spec, cache, store);
        var second = await builder.BuildAsync(Spec, cache, store);

        Assert.False(first.Reused);
        Assert.True(second.Reused);
        Assert.Equal(first.Image.Digest, second.Image.Digest);
        var layer = Assert.Single(first.Image.Layers);
        Assert.Equal(MediaTypes.OciLayerGzip, layer.MediaType);
        Assert.Equal(BaseImageBuilder.Created, first.Image.Config.Created);
        Assert.Equal("linux", first.Image.Config.OS);
        Assert.Equal("amd64", first.Image.Config.Architecture);
        Assert.Equal("bookworm", first.Image.Config.Config!.Labels!["io.basalt.base.suite"]);
        Assert.Equal(Spec.CacheKey, first.Image.Config.Config.Labels["io.basalt.base.key"]);
        Assert.True(store.TryGetReference(BaseImageBuilder.ReferenceName(Spec), out var named));
        Assert.Equal(first.Image.Digest, named);

        using var unpacked = new TempDirectory("base-unpacked");
        var target = Path.Combine(unpacked.Path, "root");
        await new LayerApplier().ApplyAsync(target, [new LayerBlob(store.GetPath(layer.Digest), layer.MediaType, first.Image.Config.RootFs.DiffIds[0])]);
        Assert.Equal("ID=debian\n", File.ReadAllText(Path.Combine(target, "etc", "os-release")));
    }

    [Fact]
    public async Task The_same_rootfs_gives_the_same_digest_in_another_store()
    {
        using var temp = new TempDirectory("base-image");
        var cache = temp.Combine("cache");
        SeedRootfs(cache);
        var builder = new BaseImageBuilder(new DebootstrapBaseBuilder(new ToolRunner()));

        var a = await builder.BuildAsync(Spec, cache, new BlobStore(temp.Combine("store-a")));
        var b = await builder.BuildAsync(Spec, cache, new BlobStore(temp.Combine("store-b")));

        Assert.False(b.Reused);
        Assert.Equal(a.Image.Digest, b.Image.Digest);
    }

    [Fact]
    public async Task A_base_whose_layer_left_the_store_is_rebuilt()
    {
        using var temp = new TempDirectory("base-image");
        var cache = temp.Combine("cache");
        SeedRootfs(cache);
        var store = new BlobStore(temp.Combine("store"));
        var builder = new BaseImageBuilder(new DebootstrapBaseBuilder(new ToolRunner()));
        var first = await builder.BuildAsync(Spec, cache, store);
        File.Delete(store.GetPath(first.Image.Layers[0].Digest));

        var again = await builder.BuildAsync(Spec, cache, store);

        Assert.False(again.Reused);
        Assert.True(store.Contains(again.Image.Layers[0].Digest));
    }

    [Fact]
    public void Composition_stacks_new_layers_on_the_base_and_merges_labels()
    {
        using var temp = new TempDirectory("compose");
        var store = new BlobStore(temp.Path);
        var layerA = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = store.Put("a"u8), Size = 1 };
        var layerB = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = store.Put("b"u8), Size = 1 };
        var diffA = Digest.Sha256("A"u8);
        var diffB = Digest.Sha256("B"u8);
        var when = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var baseImage = ImageComposition.Compose(store, null, [(layerA, diffA)], "linux", "amd64", when, new Dictionary<string, string> { ["x"] = "1", ["y"] = "base" }, "base");

        var image = ImageComposition.Compose(store, baseImage, [(layerB, diffB)], "linux", "arm64", when, new Dictionary<string, string> { ["y"] = "top" }, "basalt init");

        Assert.Equal([layerA.Digest, layerB.Digest], image.Layers.Select(l => l.Digest));
        Assert.Equal([diffA, diffB], image.Config.RootFs.DiffIds);
        Assert.Equal("amd64", image.Config.Architecture); // the base decides the platform
        Assert.Equal("1", image.Config.Config!.Labels!["x"]);
        Assert.Equal("top", image.Config.Config.Labels["y"]);
        Assert.Equal(["base", "basalt init"], image.Config.History!.Select(h => h.CreatedBy));
        Assert.Equal(image.Digest, BuiltImage.Load(store, image.Digest).Digest);
        Assert.Equal(image.Digest, ImageComposition.Compose(store, baseImage, [(layerB, diffB)], "linux", "arm64", when, new Dictionary<string, string> { ["y"] = "top" }, "basalt init").Digest);
    }
}
