using System.Text.Json;
using Basalt.Oci.Images;
using Basalt.Oci.Layers;
using Basalt.Oci.Layout;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Store;
using Basalt.Testing;
using static Basalt.Oci.Tests.Layout.LayoutFixtures;

namespace Basalt.Oci.Tests.Images;

/// <summary>An image unpacked onto the kept tree of its lower layers: only the layers above the tree's chain are applied.</summary>
public sealed class UnpackOntoTests : IDisposable
{
    private readonly TempDirectory _temp = new("unpack-onto");
    private readonly ImageService _service;

    public UnpackOntoTests() => _service = new ImageService(new BlobStore(_temp.Combine("store")), new FakeRegistryClient());

    public void Dispose() => _temp.Dispose();

    /// <summary>Writes an image of <paramref name="layers"/> (in order) under <paramref name="tag"/>; returns its source.</summary>
    private async Task<ImageSource> ImageAsync(string tag, params byte[][] layers)
    {
        var path = _temp.Combine("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(path);
        var descriptors = new List<Descriptor>();
        foreach (var layer in layers)
        {
            descriptors.Add(await layout.WriteBlobAsync(MediaTypes.OciLayer, layer));
        }

        var config = await layout.WriteBlobAsync(MediaTypes.OciConfig, ConfigJson([.. descriptors.Select(d => d.Digest)]));
        var manifest = new ImageManifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = descriptors };
        layout.SetManifest(await layout.WriteBlobAsync(MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest)), tag);
        return ImageSource.Parse($"{ImageSource.LayoutPrefix}{path}:{tag}");
    }

    [Fact]
    public async Task Only_the_layers_above_the_trees_chain_are_applied_and_the_result_is_the_full_unpack()
    {
        var baseLayer = LayerTar(("etc/os-release", "v1"), ("usr/bin/tool", "t"));
        var v1 = await ImageAsync("v1", baseLayer);
        var v2 = await ImageAsync("v2", baseLayer, LayerTar(("etc/marker", "v2")));
        var kept = _temp.Combine("kept");
        var first = await _service.UnpackAsync(v1, kept);
        var chain = LayerChain.ChainId(first.Pull.Image.Config.RootFs.DiffIds);
        var full = _temp.Combine("full");
        await _service.UnpackAsync(v2, full);

        var onto = await _service.UnpackOntoAsync(v2, kept, chain);

        Assert.Equal((1, 1), (onto.LayersReused, onto.LayersApplied));
        Assert.Equal(1, onto.EntriesApplied);
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(full), TreeSnapshot.Capture(kept), new TreeCompareOptions { IgnoreDirectoryModifiedTimes = true });
    }

    [Fact]
    public async Task A_tree_whose_chain_is_not_a_prefix_of_the_image_is_refused_before_it_is_touched()
    {
        var v1 = await ImageAsync("v1", LayerTar(("etc/os-release", "v1")));
        var other = await ImageAsync("other", LayerTar(("etc/os-release", "other")), LayerTar(("etc/marker", "x")));
        var kept = _temp.Combine("kept");
        var first = await _service.UnpackAsync(v1, kept);
        var before = TreeSnapshot.Capture(kept);

        var error = await Assert.ThrowsAsync<LayerChainMismatchException>(() =>
            _service.UnpackOntoAsync(other, kept, LayerChain.ChainId(first.Pull.Image.Config.RootFs.DiffIds)));

        Assert.Equal("layer-chain-mismatch", error.Kind);
        TreeSnapshot.AssertEqual(before, TreeSnapshot.Capture(kept));
    }
}
