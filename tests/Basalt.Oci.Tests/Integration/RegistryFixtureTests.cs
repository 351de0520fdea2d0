using System.Net;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class RegistryFixtureTests : IClassFixture<RegistryFixture>
{
    private readonly RegistryFixture _registry;

    public RegistryFixtureTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Anonymous_registry_answers_the_v2_ping()
    {
        using var client = _registry.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("v2/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", Assert.Single(response.Headers.GetValues("Docker-Distribution-API-Version")));
    }

    [Fact]
    public async Task Anonymous_registry_stores_and_serves_a_blob_in_its_storage_directory()
    {
        using var client = _registry.CreateHttpClient();
        var content = RawRegistryApi.RandomBytes(4096);

        var digest = await RawRegistryApi.UploadBlobAsync(client, "fixture/blob", content);
        var served = await client.GetByteArrayAsync(new Uri($"v2/fixture/blob/blobs/{digest}", UriKind.Relative));

        Assert.Equal(content, served);
        var stored = Path.Combine(_registry.StorageDirectory, "docker/registry/v2/blobs/sha256", digest[7..9], digest[7..], "data");
        Assert.True(File.Exists(stored), $"blob not found at {stored}");
    }

    [Fact]
    public async Task Disposed_registry_stops_listening_and_removes_its_storage()
    {
        var registry = await RegistryFixture.StartAsync();
        var storage = registry.StorageDirectory;
        var address = registry.BaseAddress;

        await registry.DisposeAsync();

        Assert.False(Directory.Exists(storage));
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("v2/", UriKind.Relative)));
    }
}
