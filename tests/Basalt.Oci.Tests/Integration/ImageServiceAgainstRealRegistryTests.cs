using System.Text.Json;
using Basalt.Oci.Images;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

/// <summary>Basalt's image service (push, pull, unpack) against Debian's docker-registry and the reference tools.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class ImageServiceAgainstRealRegistryTests : IClassFixture<RegistryFixture>
{
    private static readonly RegistryOptions FastRetries = new() { InitialBackoff = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(20) };
    private readonly RegistryFixture _registry;

    public ImageServiceAgainstRealRegistryTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Image_pushed_from_a_directory_pulls_back_and_unpacks_to_the_same_tree()
    {
        Requires.Root();
        using var temp = new TempDirectory("service-roundtrip");
        SampleTree.Create(temp.Combine("source"));
        var reference = ImageReference.Parse(_registry.Reference("service/roundtrip", "v1"));
        using (var pushClient = new RegistryClient(FastRetries))
        {
            await new ImageService(new BlobStore(temp.Combine("push-store")), pushClient)
                .PushDirectoryAsync(temp.Combine("source"), reference, new Dictionary<string, string> { ["org.example.purpose"] = "roundtrip" });
        }

        using var client = new RegistryClient(FastRetries);
        var service = new ImageService(new BlobStore(temp.Combine("pull-store")), client);
        var unpacked = await service.UnpackAsync(new RegistrySource(reference), temp.Combine("unpacked"));

        var differences = TreeSnapshot.Differences(TreeSnapshot.Capture(temp.Combine("source")), TreeSnapshot.Capture(temp.Combine("unpacked")));
        Assert.True(differences.Count == 0, "unpacked tree differs from the pushed one:\n" + string.Join('\n', differences));
        Assert.True(unpacked.Pull.BlobsTransferred >= 2);
        Assert.Equal("roundtrip", unpacked.Pull.Image.Config.Config?.Labels?["org.example.purpose"]);

        var second = await service.PullAsync(new RegistrySource(reference));
        Assert.Equal(0, second.BytesTransferred);
        Assert.Equal(0, second.BlobsTransferred);
    }

    [Fact]
    public async Task Image_basalt_pushed_passes_skopeo_inspect_and_skopeo_copy_and_umoci_unpacks_it_to_the_same_tree()
    {
        Requires.Root();
        using var temp = new TempDirectory("service-skopeo");
        SampleTree.Create(temp.Combine("source"));
        var reference = ImageReference.Parse(_registry.Reference("service/to-skopeo", "v1"));
        using (var client = new RegistryClient(FastRetries))
        {
            await new ImageService(new BlobStore(temp.Combine("store")), client)
                .PushDirectoryAsync(temp.Combine("source"), reference, new Dictionary<string, string> { ["org.example.tool"] = "skopeo" });
        }

        var tools = new ReferenceTools();
        using var inspected = JsonDocument.Parse(await tools.InspectWithSkopeoAsync($"docker://{reference}"));
        Assert.Equal("skopeo", inspected.RootElement.GetProperty("Labels").GetProperty("org.example.tool").GetString());
        Assert.Equal(1, inspected.RootElement.GetProperty("Layers").GetArrayLength());
        Assert.Equal("linux", inspected.RootElement.GetProperty("Os").GetString());

        await tools.CopyWithSkopeoAsync($"docker://{reference}", $"oci:{temp.Combine("layout")}:v1");
        var rootfs = await tools.UnpackWithUmociAsync(temp.Combine("layout"), "v1", temp.Combine("bundle"));
        var differences = TreeSnapshot.Differences(TreeSnapshot.Capture(temp.Combine("source")), TreeSnapshot.Capture(rootfs));
        Assert.True(differences.Count == 0, "umoci's unpack of Basalt's image differs from the source:\n" + string.Join('\n', differences));
    }

    [Fact]
    public async Task Umoci_image_pushed_with_skopeo_is_unpacked_by_the_image_service_exactly_as_umoci_unpacks_it()
    {
        Requires.Root();
        using var temp = new TempDirectory("service-umoci");
        var tools = new ReferenceTools();
        SampleTree.Create(temp.Combine("source"));
        await tools.BuildImageWithUmociAsync(temp.Combine("layout"), "v1", temp.Combine("source"));
        var reference = _registry.Reference("service/from-umoci", "v1");
        await tools.CopyWithSkopeoAsync($"oci:{temp.Combine("layout")}:v1", $"docker://{reference}");
        var expected = await tools.UnpackWithUmociAsync(temp.Combine("layout"), "v1", temp.Combine("bundle"));

        using var client = new RegistryClient(FastRetries);
        await new ImageService(new BlobStore(temp.Combine("store")), client)
            .UnpackAsync(new RegistrySource(ImageReference.Parse(reference)), temp.Combine("unpacked"));

        var differences = TreeSnapshot.Differences(TreeSnapshot.Capture(expected), TreeSnapshot.Capture(temp.Combine("unpacked")));
        Assert.True(differences.Count == 0, "Basalt's unpack differs from umoci's:\n" + string.Join('\n', differences));
    }

    [Fact]
    public async Task Pull_through_a_connection_cut_midway_resumes_and_completes()
    {
        using var temp = new TempDirectory("service-resume");
        var source = temp.Combine("source");
        Directory.CreateDirectory(source);
        await File.WriteAllBytesAsync(Path.Combine(source, "random.bin"), RawRegistryApi.RandomBytes(3_000_000));
        var pushed = await PushAsync(source, "service/resume", temp.Combine("push-store"));
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        proxy.CutBlobAfter(1_000_000, pushed.Layer.Digest.Value);

        using var client = new RegistryClient(FastRetries);
        var store = new BlobStore(temp.Combine("store"));
        var pull = await new ImageService(store, client).PullAsync(new RegistrySource(ImageReference.Parse($"{proxy.Host}/service/resume:v1")));

        Assert.True(store.Contains(pushed.Layer.Digest));
        Assert.Equal(pushed.Digest, pull.Image.Digest);
        var layerGets = proxy.Requests.Where(r => r.Method == "GET" && r.PathAndQuery.EndsWith(pushed.Layer.Digest.Value, StringComparison.Ordinal)).ToList();
        Assert.Equal([FaultApplied.Cut, FaultApplied.None], layerGets.Select(r => r.Fault));
        Assert.Equal("bytes=1000000-", layerGets[1].Range);
    }

    [Fact]
    public async Task Pull_of_a_corrupted_layer_fails_with_a_digest_error_and_leaves_no_layer_in_the_store()
    {
        using var temp = new TempDirectory("service-corrupt");
        var source = temp.Combine("source");
        Directory.CreateDirectory(source);
        await File.WriteAllBytesAsync(Path.Combine(source, "random.bin"), RawRegistryApi.RandomBytes(400_000));
        var pushed = await PushAsync(source, "service/corrupt", temp.Combine("push-store"));
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        proxy.CorruptBlobs(offset: 1000, digest: pushed.Layer.Digest.Value);

        using var client = new RegistryClient(FastRetries);
        var store = new BlobStore(temp.Combine("store"));
        await Assert.ThrowsAsync<DigestMismatchException>(() =>
            new ImageService(store, client).UnpackAsync(new RegistrySource(ImageReference.Parse($"{proxy.Host}/service/corrupt:v1")), temp.Combine("unpacked")));

        Assert.False(store.Contains(pushed.Layer.Digest));
        Assert.DoesNotContain(store.List(), blob => blob.Digest == pushed.Layer.Digest);
        Assert.Empty(Directory.EnumerateFiles(store.Root, "*.partial", SearchOption.AllDirectories));
        Assert.False(Directory.Exists(temp.Combine("unpacked")));
    }

    private async Task<PushResult> PushAsync(string directory, string repository, string storeRoot)
    {
        using var client = new RegistryClient(FastRetries);
        return await new ImageService(new BlobStore(storeRoot), client)
            .PushDirectoryAsync(directory, ImageReference.Parse(_registry.Reference(repository, "v1")));
    }
}

/// <summary>The image service with credentials from a docker config file, against basic and token auth registries.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class ImageServiceAuthTests : IClassFixture<BasicAuthRegistryFixture>, IClassFixture<TokenAuthRegistryFixture>
{
    private readonly BasicAuthRegistryFixture _basic;
    private readonly TokenAuthRegistryFixture _token;

    public ImageServiceAuthTests(BasicAuthRegistryFixture basic, TokenAuthRegistryFixture token)
    {
        _basic = basic;
        _token = token;
    }

    [Fact]
    public Task Basic_auth_push_then_pull_and_unpack_with_docker_config_credentials() => RoundTripAsync(_basic);

    [Fact]
    public Task Token_auth_push_then_pull_and_unpack_with_docker_config_credentials() => RoundTripAsync(_token);

    private static async Task RoundTripAsync(RegistryFixture registry)
    {
        using var temp = new TempDirectory("service-auth");
        var source = temp.Combine("source");
        Directory.CreateDirectory(Path.Combine(source, "etc"));
        await File.WriteAllTextAsync(Path.Combine(source, "etc/hostname"), "basalt\n");
        var config = registry.WriteDockerConfig(temp.Combine("docker"));
        var reference = ImageReference.Parse(registry.Reference("service/auth", "v1"));
        using (var client = new RegistryClient(new RegistryOptions { AuthFilePath = config.Path }))
        {
            await new ImageService(new BlobStore(temp.Combine("push-store")), client).PushDirectoryAsync(source, reference);
        }

        using var reader = new RegistryClient(new RegistryOptions { AuthFilePath = config.Path });
        await new ImageService(new BlobStore(temp.Combine("pull-store")), reader).UnpackAsync(new RegistrySource(reference), temp.Combine("unpacked"));

        Assert.Equal("basalt\n", await File.ReadAllTextAsync(temp.Combine("unpacked", "etc", "hostname")));
    }
}
