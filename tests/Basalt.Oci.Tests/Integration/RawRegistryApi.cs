using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Basalt.Oci.Tests.Integration;

/// <summary>Bare distribution-API calls, so the fixtures are proven without Basalt's own registry client.</summary>
internal static class RawRegistryApi
{
    public static string Sha256Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>Monolithic upload: POST an upload session, PUT the bytes with their digest. Returns the digest.</summary>
    public static async Task<string> UploadBlobAsync(HttpClient client, string repository, byte[] content, CancellationToken cancellationToken = default)
    {
        var digest = Sha256Digest(content);
        using var start = await client.PostAsync(new Uri($"v2/{repository}/blobs/uploads/", UriKind.Relative), null, cancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location ?? throw new InvalidOperationException("upload session without Location");
        var target = location.IsAbsoluteUri ? location : new Uri(client.BaseAddress!, location);
        var separator = target.Query.Length > 0 ? "&" : "?";
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await client.PutAsync(new Uri(target + separator + "digest=" + Uri.EscapeDataString(digest)), body, cancellationToken);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return digest;
    }

    public static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }
}
