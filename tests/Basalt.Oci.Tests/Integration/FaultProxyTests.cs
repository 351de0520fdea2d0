using System.Net;
using System.Net.Http.Headers;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class FaultProxyTests : IClassFixture<RegistryFixture>
{
    private readonly RegistryFixture _registry;

    public FaultProxyTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Proxy_passes_pushes_and_pulls_through_unchanged()
    {
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        using var client = new HttpClient { BaseAddress = proxy.Address };
        var content = RawRegistryApi.RandomBytes(300_000);

        var digest = await RawRegistryApi.UploadBlobAsync(client, "fixture/proxied", content);

        Assert.Equal(content, await client.GetByteArrayAsync(new Uri($"v2/fixture/proxied/blobs/{digest}", UriKind.Relative)));
        Assert.Contains(proxy.Requests, r => r.Method == "PUT" && r.Status == (int)HttpStatusCode.Created);
        Assert.Equal(content.Length, proxy.BlobBytesServed);
    }

    [Fact]
    public async Task Cut_download_stops_after_the_given_bytes_once_and_a_range_request_gets_the_rest()
    {
        using var direct = _registry.CreateHttpClient();
        var content = RawRegistryApi.RandomBytes(1_000_000);
        var digest = await RawRegistryApi.UploadBlobAsync(direct, "fixture/cut", content);
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        proxy.CutBlobAfter(400_000, digest);
        using var client = new HttpClient { BaseAddress = proxy.Address };
        var blob = new Uri($"v2/fixture/cut/blobs/{digest}", UriKind.Relative);

        using var first = await client.GetAsync(blob, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await first.Content.ReadAsStreamAsync();
        using var received = new MemoryStream();
        await Assert.ThrowsAnyAsync<IOException>(() => stream.CopyToAsync(received));
        Assert.Equal(400_000, received.Length);

        using var resume = new HttpRequestMessage(HttpMethod.Get, blob);
        resume.Headers.Range = new RangeHeaderValue(received.Length, null);
        using var rest = await client.SendAsync(resume);
        Assert.Equal(HttpStatusCode.PartialContent, rest.StatusCode);
        await received.WriteAsync(await rest.Content.ReadAsByteArrayAsync());

        Assert.Equal(content, received.ToArray());
        Assert.Equal([FaultApplied.Cut, FaultApplied.None], proxy.Requests.Where(r => r.Method == "GET").Select(r => r.Fault));
        Assert.Equal("bytes=400000-", proxy.Requests[^1].Range);
    }

    [Fact]
    public async Task Corrupted_download_has_the_same_length_and_one_byte_inverted()
    {
        using var direct = _registry.CreateHttpClient();
        var content = RawRegistryApi.RandomBytes(200_000);
        var digest = await RawRegistryApi.UploadBlobAsync(direct, "fixture/corrupt", content);
        await using var proxy = await FaultProxy.StartAsync(_registry.BaseAddress);
        proxy.CorruptBlobs(offset: 150_000);
        using var client = new HttpClient { BaseAddress = proxy.Address };

        var served = await client.GetByteArrayAsync(new Uri($"v2/fixture/corrupt/blobs/{digest}", UriKind.Relative));
        var again = await client.GetByteArrayAsync(new Uri($"v2/fixture/corrupt/blobs/{digest}", UriKind.Relative));

        Assert.Equal(content.Length, served.Length);
        Assert.NotEqual(digest, RawRegistryApi.Sha256Digest(served));
        Assert.Equal([150_000], Enumerable.Range(0, content.Length).Where(i => content[i] != served[i]));
        Assert.Equal((byte)(content[150_000] ^ 0xFF), served[150_000]);
        Assert.Equal(served, again);
    }
}
