using Basalt.Oci.Layers;
using Basalt.Oci.Manifests;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

/// <summary>Images made by the reference tools (umoci, skopeo) read by Basalt exactly as the reference tools read them.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class InteropTests : IClassFixture<RegistryFixture>
{
    private readonly RegistryFixture _registry;

    public InteropTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Umoci_image_pushed_with_skopeo_unpacks_in_basalt_exactly_as_umoci_unpacks_it()
    {
        Requires.Root();
        using var temp = new TempDirectory("interop-umoci");
        var tools = new ReferenceTools();
        SampleTree.Create(temp.Combine("source"));
        var layout = temp.Combine("layout");
        await tools.BuildImageWithUmociAsync(layout, "v1", temp.Combine("source"));
        var reference = _registry.Reference("interop/umoci", "v1");
        await tools.CopyWithSkopeoAsync($"oci:{layout}:v1", $"docker://{reference}");
        var expected = await tools.UnpackWithUmociAsync(layout, "v1", temp.Combine("umoci-bundle"));

        var target = temp.Combine("basalt-rootfs");
        await PullAndUnpackAsync(ImageReference.Parse(reference), new BlobStore(temp.Combine("store")), target);

        var differences = TreeSnapshot.Differences(TreeSnapshot.Capture(expected), TreeSnapshot.Capture(target));
        Assert.True(differences.Count == 0, "Basalt's unpack differs from umoci's:\n" + string.Join('\n', differences));
        Assert.True(TreeSnapshot.Capture(target).Entries.ContainsKey("usr/bin/su-like"));
    }

    /// <summary>
    /// Pull and unpack with Basalt's parts (registry client, blob store, layer applier), as the image service
    /// composes them: manifest, verified config, every layer downloaded into the store, then applied in order.
    /// </summary>
    private static async Task PullAndUnpackAsync(ImageReference reference, BlobStore store, string target)
    {
        using var client = new RegistryClient();
        var response = await client.GetManifestAsync(reference, CancellationToken.None);
        var document = ManifestParser.Parse(response.Content, response.MediaType);
        var manifest = Assert.IsType<ImageManifestDocument>(document).Manifest;

        foreach (var blob in manifest.Layers.Prepend(manifest.Config))
        {
            var partial = store.GetPartialPath(blob.Digest);
            await client.DownloadBlobAsync(reference, blob, partial, null, CancellationToken.None);
            store.CommitVerified(blob.Digest, partial);
        }

        var config = ConfigParser.Parse(store.ReadAllBytes(manifest.Config.Digest), manifest.Config);
        var layers = manifest.Layers
            .Select((layer, index) => new LayerBlob(store.GetPath(layer.Digest), layer.MediaType, config.RootFs.DiffIds[index]))
            .ToList();
        await new LayerApplier().ApplyAsync(target, layers);
    }
}
