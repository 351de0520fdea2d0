using System.Net;
using System.Net.Sockets;
using Basalt.Oci.Images;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

/// <summary>
/// <see cref="LocalRegistry"/> (the registry <c>basalt demo</c> starts) and <see cref="LayeredImages"/> (v2 = v1 + one
/// layer) against Debian's docker-registry: a node holding v1's blobs fetches only v2's new layer and config.
/// </summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class LocalRegistryAndLayeredImagesTests
{
    [Fact]
    public async Task A_local_registry_serves_v1_and_v2_and_a_store_holding_v1_pulls_only_the_new_layer()
    {
        Requires.Root();
        Requires.Tool("docker-registry", "docker-registry");
        using var temp = new TempDirectory("local-registry");
        SampleTree.Create(temp.Combine("tree"));
        var marker = temp.Combine("marker/usr/share/demo/version");
        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        await File.WriteAllTextAsync(marker, "v2\n");

        int pid;
        await using (var registry = await LocalRegistry.StartAsync(temp.Combine("registry"), null, new ToolRunner()))
        {
            pid = registry.ProcessId;
            using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { registry.Host } });
            var images = new LayeredImages(client, $"{registry.Host}/demo/os", temp.Combine("layers"));
            var nodeStore = new BlobStore(temp.Combine("node-store"));
            var v1 = await images.PushTreeAsync(temp.Combine("tree"), "v1", nodeStore);
            var updates = new List<TransferUpdate>();
            var v2 = await images.PushWithLayerAsync(v1, temp.Combine("marker"), "v2", "test: add the marker", new ListProgress(updates));

            Assert.Single(v1.Layers);
            Assert.Equal(2, v2.Layers.Count);
            Assert.Equal(v1.Layers[0], v2.Layers[0]);
            Assert.Equal(2, v2.ConfigDocument.RootFs.DiffIds.Count);
            Assert.Equal("test: add the marker", v2.ConfigDocument.History![^1].CreatedBy);
            Assert.Contains(updates, u => u.State == TransferState.Done && u.Digest == v2.Layers[^1].Digest);

            // The node already has v1's blobs: pulling v2 fetches the new layer and the config, nothing more.
            var pull = await new ImageService(nodeStore, client).PullAsync(new RegistrySource(ImageReference.Parse(v2.Reference)));
            Assert.Equal(v2.Digest, pull.Image.RootDigest);
            Assert.Equal(2, pull.BlobsTransferred); // the new layer and v2's config
            Assert.Equal(1, pull.BlobsSkipped); // v1's layer
            Assert.True(pull.BytesTransferred <= v2.Layers[^1].Size + v2.Config.Size + v2.ManifestSize, $"fetched {pull.BytesTransferred} bytes");

            // Another store unpacks v2 whole, marker included.
            var unpacked = await new ImageService(new BlobStore(temp.Combine("other-store")), client)
                .UnpackAsync(new RegistrySource(ImageReference.Parse(v2.Reference)), temp.Combine("unpacked"));
            Assert.Equal("v2\n", await File.ReadAllTextAsync(temp.Combine("unpacked/usr/share/demo/version")));
            Assert.Equal(2, unpacked.Pull.Image.Layers.Count);
        }

        Assert.False(File.Exists($"/proc/{pid}/cmdline") && (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Contains("docker-registry", StringComparison.Ordinal), "the registry is stopped on dispose");
    }

    [Fact]
    public async Task An_image_kept_in_a_store_is_pushed_again_to_a_fresh_registry_byte_for_byte()
    {
        Requires.Root();
        Requires.Tool("docker-registry", "docker-registry");
        using var temp = new TempDirectory("local-registry-stored");
        SampleTree.Create(temp.Combine("tree"));
        var store = new BlobStore(temp.Combine("store"));
        PushedImage first;
        await using (var registry = await LocalRegistry.StartAsync(temp.Combine("first"), null, new ToolRunner()))
        {
            using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { registry.Host } });
            first = await new LayeredImages(client, $"{registry.Host}/demo/os", temp.Combine("layers")).PushTreeAsync(temp.Combine("tree"), "v1", store);
        }

        await using (var registry = await LocalRegistry.StartAsync(temp.Combine("second"), null, new ToolRunner()))
        {
            using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { registry.Host } });
            var again = await new LayeredImages(client, $"{registry.Host}/demo/os", temp.Combine("layers")).PushStoredAsync(store, first.Digest, "v1");

            Assert.Equal(first.Digest, again.Digest);
            Assert.Equal(first.Layers, again.Layers);
            Assert.Equal(first.TotalBytes, again.TotalBytes);
            var unpacked = await new ImageService(new BlobStore(temp.Combine("pull-store")), client)
                .UnpackAsync(new RegistrySource(ImageReference.Parse(again.Reference)), temp.Combine("unpacked"));
            var differences = TreeSnapshot.Differences(TreeSnapshot.Capture(temp.Combine("tree")), TreeSnapshot.Capture(temp.Combine("unpacked")));
            Assert.True(differences.Count == 0, string.Join('\n', differences));
            Assert.Equal(first.Digest, unpacked.Pull.Image.RootDigest);
        }
    }

    [Fact]
    public async Task A_registry_asked_for_a_port_in_use_fails_with_a_typed_error_and_starts_nothing()
    {
        Requires.Tool("docker-registry", "docker-registry");
        using var temp = new TempDirectory("local-registry-busy");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<RegistryPortInUseException>(() => LocalRegistry.StartAsync(temp.Combine("registry"), port, new ToolRunner()));
        Assert.Equal(port, error.Port);
        Assert.Equal("port-in-use", error.Kind);
        Assert.False(File.Exists(temp.Combine("registry/registry.log")), "no registry process was started");
    }

    private sealed class ListProgress(List<TransferUpdate> updates) : IProgress<TransferUpdate>
    {
        public void Report(TransferUpdate value)
        {
            lock (updates)
            {
                updates.Add(value);
            }
        }
    }
}
