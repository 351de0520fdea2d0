using System.Text;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

/// <summary>Basalt's registry client and blob store against Debian's docker-registry, with faults injected by a proxy.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class RegistryClientAgainstRealRegistryTests : IClassFixture<RegistryFixture>
{
    private static readonly RegistryOptions FastRetries = new() { InitialBackoff = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(20) };
    private readonly RegistryFixture _registry;

    public RegistryClientAgainstRealRegistryTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Blob_download_cut_midway_resumes_with_a_range_request_and_completes_into_the_store()
    {
        using var direct = _registry.CreateHttpClient();
        var content = RawRegistryApi.RandomBytes(3_000_000);
        var digest = await RawRegistryApi.UploadBlobAsync(direct, "fixture/resume", content);
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        proxy.CutBlobAfter(1_234_567, digest);
        using var temp = new TempDirectory("resume");
        var store = new BlobStore(temp.Combine("store"));
        var blob = Blob(digest, content.Length);
        var partial = store.GetPartialPath(blob.Digest);
        using var client = new RegistryClient(FastRetries);

        await client.DownloadBlobAsync(ImageReference.Parse($"{proxy.Host}/fixture/resume"), blob, partial, null, CancellationToken.None);
        store.CommitVerified(blob.Digest, partial);

        Assert.Equal(content, store.ReadAllBytes(blob.Digest));
        var gets = proxy.Requests.Where(r => r.Method == "GET").ToList();
        Assert.Equal([FaultApplied.Cut, FaultApplied.None], gets.Select(r => r.Fault));
        Assert.Equal(1_234_567, gets[0].BodyBytes);
        Assert.Equal("bytes=1234567-", gets[1].Range);
        Assert.Equal(content.Length - 1_234_567, gets[1].BodyBytes);
    }

    [Fact]
    public async Task Corrupted_blob_fails_with_a_digest_error_and_leaves_nothing_in_the_store()
    {
        using var direct = _registry.CreateHttpClient();
        var content = RawRegistryApi.RandomBytes(500_000);
        var digest = await RawRegistryApi.UploadBlobAsync(direct, "fixture/corrupt-store", content);
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        proxy.CorruptBlobs(offset: 250_000);
        using var temp = new TempDirectory("corrupt");
        var store = new BlobStore(temp.Combine("store"));
        var blob = Blob(digest, content.Length);
        var partial = store.GetPartialPath(blob.Digest);
        using var client = new RegistryClient(FastRetries);

        var error = await Assert.ThrowsAsync<DigestMismatchException>(() =>
            client.DownloadBlobAsync(ImageReference.Parse($"{proxy.Host}/fixture/corrupt-store"), blob, partial, null, CancellationToken.None));

        Assert.Contains(digest, error.Message, StringComparison.Ordinal);
        Assert.False(store.Contains(blob.Digest));
        Assert.Empty(store.List());
        Assert.False(File.Exists(partial), "the corrupt partial download was left behind");
        Assert.Contains(proxy.Requests, r => r.Fault == FaultApplied.Corrupted);
    }

    [Fact]
    public async Task Manifest_and_blobs_pushed_by_basalt_are_served_back_exactly()
    {
        using var client = new RegistryClient(FastRetries);
        var reference = ImageReference.Parse(_registry.Reference("fixture/roundtrip", "v1"));

        var (manifest, layer) = await PushSmallImageAsync(client, reference);
        var served = await client.GetManifestAsync(reference, CancellationToken.None);
        using var temp = new TempDirectory("roundtrip");
        var partial = temp.Combine("layer.partial");
        await client.DownloadBlobAsync(reference, Blob(RawRegistryApi.Sha256Digest(layer), layer.Length), partial, null, CancellationToken.None);

        Assert.Equal(manifest, served.Content);
        Assert.Equal(MediaTypes.OciManifest, served.MediaType);
        Assert.Equal(layer, await File.ReadAllBytesAsync(partial));
        Assert.Contains("v1", await client.ListTagsAsync(reference, CancellationToken.None));
    }

    /// <summary>Pushes a config and one layer blob and an OCI manifest naming them; returns the manifest and layer bytes.</summary>
    internal static async Task<(byte[] Manifest, byte[] Layer)> PushSmallImageAsync(IRegistryClient client, ImageReference reference)
    {
        var layer = RawRegistryApi.RandomBytes(70_000);
        var config = Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""");
        var configDigest = RawRegistryApi.Sha256Digest(config);
        var layerDigest = RawRegistryApi.Sha256Digest(layer);
        await client.PushBlobAsync(reference, Blob(configDigest, config.Length, MediaTypes.OciConfig), () => new MemoryStream(config), null, null, CancellationToken.None);
        await client.PushBlobAsync(reference, Blob(layerDigest, layer.Length, MediaTypes.OciLayerGzip), () => new MemoryStream(layer), null, null, CancellationToken.None);
        var manifest = Encoding.UTF8.GetBytes(
            $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{configDigest}}","size":{{config.Length}}},"layers":[{"mediaType":"{{MediaTypes.OciLayerGzip}}","digest":"{{layerDigest}}","size":{{layer.Length}}}]}""");
        var pushed = await client.PushManifestAsync(reference, manifest, MediaTypes.OciManifest, CancellationToken.None);
        Assert.Equal(RawRegistryApi.Sha256Digest(manifest), pushed.Value);
        return (manifest, layer);
    }

    internal static Descriptor Blob(string digest, long size, string mediaType = MediaTypes.OciLayerGzip) =>
        new() { MediaType = mediaType, Digest = Digest.Parse(digest), Size = size };
}

/// <summary>Basalt's registry client with credentials from a docker config file, against basic and token auth.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class RegistryClientAuthTests : IClassFixture<BasicAuthRegistryFixture>, IClassFixture<TokenAuthRegistryFixture>
{
    private readonly BasicAuthRegistryFixture _basic;
    private readonly TokenAuthRegistryFixture _token;

    public RegistryClientAuthTests(BasicAuthRegistryFixture basic, TokenAuthRegistryFixture token)
    {
        _basic = basic;
        _token = token;
    }

    [Fact]
    public Task Basic_auth_registry_pushes_and_pulls_with_docker_config_credentials() => RoundTripAsync(_basic);

    [Fact]
    public async Task Token_auth_registry_pushes_and_pulls_with_docker_config_credentials()
    {
        await RoundTripAsync(_token);

        Assert.Contains(_token.TokenServer!.Requests, r => r.Granted && r.Account == _token.Credentials!.Username
            && r.Scopes.Contains("repository:fixture/auth:pull,push"));
    }

    [Fact]
    public Task Basic_auth_registry_refuses_a_client_without_credentials() => RefusedAsync(_basic);

    [Fact]
    public Task Token_auth_registry_refuses_a_client_without_credentials() => RefusedAsync(_token);

    private static async Task RoundTripAsync(RegistryFixture registry)
    {
        using var temp = new TempDirectory("auth");
        var config = registry.WriteDockerConfig(temp.Combine("docker"));
        using var client = new RegistryClient(new RegistryOptions { AuthFilePath = config.Path });
        var reference = ImageReference.Parse(registry.Reference("fixture/auth", "v1"));

        var (manifest, layer) = await RegistryClientAgainstRealRegistryTests.PushSmallImageAsync(client, reference);

        using var reader = new RegistryClient(new RegistryOptions { AuthFilePath = config.Path });
        Assert.Equal(manifest, (await reader.GetManifestAsync(reference, CancellationToken.None)).Content);
        var partial = temp.Combine("layer.partial");
        await reader.DownloadBlobAsync(reference, RegistryClientAgainstRealRegistryTests.Blob(RawRegistryApi.Sha256Digest(layer), layer.Length), partial, null, CancellationToken.None);
        Assert.Equal(layer, await File.ReadAllBytesAsync(partial));
    }

    private static async Task RefusedAsync(RegistryFixture registry)
    {
        using var temp = new TempDirectory("noauth");
        using var client = new RegistryClient(new RegistryOptions { AuthFilePath = temp.Combine("missing-config.json"), MaxAttempts = 1 });
        var reference = ImageReference.Parse(registry.Reference("fixture/auth-refused", "v1"));

        await Assert.ThrowsAsync<RegistryAuthenticationException>(() => client.GetManifestAsync(reference, CancellationToken.None));
    }
}
