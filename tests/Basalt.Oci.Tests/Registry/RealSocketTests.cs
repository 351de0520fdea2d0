using System.Text;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Registry;

/// <summary>The client over real sockets on 127.0.0.1 (no fake handler): drops, resume, redirects.</summary>
public sealed class RealSocketTests
{
    private static byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        new Random(3).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Connection_dropped_mid_body_resumes_with_range()
    {
        var content = Bytes(200_000);
        var digest = Digest.Sha256(content);
        var served = 0;
        await using var server = new LoopbackHttpServer(async (request, stream) =>
        {
            if (Interlocked.Increment(ref served) == 1)
            {
                // Promise the whole blob, send 70000 bytes, hang up.
                await LoopbackHttpServer.WriteAsync(stream, 200, [], content, sendOnly: 70_000);
                return;
            }

            var from = int.Parse(request.Headers["Range"]["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
            await LoopbackHttpServer.WriteAsync(stream, 206, [("Content-Range", $"bytes {from}-{content.Length - 1}/{content.Length}")], content[from..]);
        });
        using var dir = new TempDirectory("real");
        using var client = new RegistryClient(RegistryClientTests.Options());
        var blob = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = digest, Size = content.Length };

        await client.DownloadBlobAsync(new ImageReference(server.Registry, "app", null, null), blob, dir.Combine("blob"), null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(dir.Combine("blob")));
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal($"/v2/app/blobs/{digest}", server.Requests[0].Target);
        Assert.StartsWith("bytes=", server.Requests[1].Headers["Range"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirect_to_another_host_drops_authorization_over_real_sockets()
    {
        var content = Bytes(10_000);
        var digest = Digest.Sha256(content);
        await using var storage = new LoopbackHttpServer((_, stream) => LoopbackHttpServer.WriteAsync(stream, 200, [], content));
        await using var registry = new LoopbackHttpServer((request, stream) =>
            request.Headers.ContainsKey("Authorization")
                ? LoopbackHttpServer.WriteAsync(stream, 307, [("Location", $"http://localhost:{storage.Port}/data?sig=1")], [])
                : LoopbackHttpServer.WriteAsync(stream, 401, [("WWW-Authenticate", "Basic realm=\"r\"")], []));
        using var dir = new TempDirectory("real");
        var authFile = dir.Combine("auth.json");
        File.WriteAllText(authFile, "{\"auths\":{\"" + registry.Registry + "\":{\"auth\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p")) + "\"}}}");
        using var client = new RegistryClient(RegistryClientTests.Options(authFile));
        var blob = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = digest, Size = content.Length };

        await client.DownloadBlobAsync(new ImageReference(registry.Registry, "app", null, null), blob, dir.Combine("blob"), null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(dir.Combine("blob")));
        Assert.StartsWith("Basic ", registry.Requests[^1].Headers["Authorization"], StringComparison.Ordinal);
        var fetched = Assert.Single(storage.Requests);
        Assert.Equal("/data?sig=1", fetched.Target);
        Assert.False(fetched.Headers.ContainsKey("Authorization"));
    }
}
