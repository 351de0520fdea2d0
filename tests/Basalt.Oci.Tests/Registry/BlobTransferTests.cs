using System.Net;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Registry;

public sealed class BlobTransferTests
{
    private const string Host = "localhost:5000";
    private static readonly ImageReference App = new(Host, "team/app", null, null);

    private static RegistryClient Client(FakeRegistry fake, RegistryOptions? options = null) =>
        new(options ?? RegistryClientTests.Options(), fake);

    private static byte[] Bytes(int length, int seed = 7)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private sealed class Recorder : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value)
        {
            lock (Values)
            {
                Values.Add(value);
            }
        }
    }

    // ---- download ----

    [Fact]
    public async Task Downloads_and_verifies_into_a_new_directory()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(300_000);
        var blob = fake.AddBlob("team/app", content);
        var partial = dir.Combine("nested", "deeper", "blob.partial");
        var progress = new Recorder();
        using var client = Client(fake);

        await client.DownloadBlobAsync(App, blob, partial, progress, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(partial));
        Assert.Equal(content.Length, progress.Values[^1]);
        Assert.Equal("http://localhost:5000/v2/team/app/blobs/" + blob.Digest, Assert.Single(fake.Requests).Uri.ToString());
    }

    [Fact]
    public async Task Sha512_digests_are_verified_too()
    {
        using var dir = new TempDirectory("blob");
        var content = Bytes(5000);
        var sha512 = Digest.FromHash("sha512", System.Security.Cryptography.SHA512.HashData(content));
        using var fake = new FakeRegistry { Intercept = r => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(content) } };
        using var client = Client(fake);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = sha512, Size = content.Length };
        await client.DownloadBlobAsync(App, blob, dir.Combine("b"), null, CancellationToken.None);
        Assert.Equal(content, await File.ReadAllBytesAsync(dir.Combine("b")));
    }

    [Fact]
    public async Task Resumes_with_range_after_a_connection_dropped_mid_body()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry { CutBlobAfterBytes = 100_000, CutsRemaining = 2 };
        var content = Bytes(250_000);
        var blob = fake.AddBlob("team/app", content);
        using var client = Client(fake);

        await client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(dir.Combine("blob")));
        var gets = fake.Requests.Where(r => r.Method == HttpMethod.Get).ToList();
        Assert.Equal(3, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.Equal("bytes=100000-", gets[1].Range);
        Assert.Equal("bytes=200000-", gets[2].Range);
    }

    [Fact]
    public async Task Resumes_a_partial_file_left_by_an_earlier_run()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(100_000);
        var blob = fake.AddBlob("team/app", content);
        var partial = dir.Combine("blob");
        await File.WriteAllBytesAsync(partial, content[..40_000]);
        using var client = Client(fake);

        await client.DownloadBlobAsync(App, blob, partial, null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(partial));
        Assert.Equal("bytes=40000-", Assert.Single(fake.Requests).Range);
    }

    [Fact]
    public async Task Complete_partial_file_needs_no_request()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(1000);
        var blob = fake.AddBlob("team/app", content);
        await File.WriteAllBytesAsync(dir.Combine("blob"), content);
        using var client = Client(fake);
        await client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Server_ignoring_range_restarts_from_zero()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry { IgnoreRange = true };
        var content = Bytes(100_000);
        var blob = fake.AddBlob("team/app", content);
        var partial = dir.Combine("blob");
        await File.WriteAllBytesAsync(partial, content[..30_000]);
        using var client = Client(fake);

        await client.DownloadBlobAsync(App, blob, partial, null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(partial));
        Assert.Equal("bytes=30000-", Assert.Single(fake.Requests).Range);
    }

    [Fact]
    public async Task Digest_mismatch_deletes_the_partial_file()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(50_000);
        var blob = fake.AddBlob("team/app", content);
        content[25_000] ^= 0xff; // the registry now serves corrupted bytes under the same digest
        using var client = Client(fake);

        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None));

        Assert.Equal(blob.Digest, error.Expected);
        Assert.False(File.Exists(dir.Combine("blob")));
    }

    [Fact]
    public async Task Corrupt_bytes_left_from_an_earlier_run_are_caught()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(50_000);
        var blob = fake.AddBlob("team/app", content);
        await File.WriteAllBytesAsync(dir.Combine("blob"), new byte[20_000]);
        using var client = Client(fake);
        await Assert.ThrowsAsync<DigestMismatchException>(() => client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None));
        Assert.False(File.Exists(dir.Combine("blob")));
    }

    [Fact]
    public async Task Size_mismatch_is_an_error_and_keeps_nothing()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(10_000);
        var blob = fake.AddBlob("team/app", content) with { Size = 9_000 };
        using var client = Client(fake);
        await Assert.ThrowsAsync<BlobSizeMismatchException>(() => client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None));
        Assert.False(File.Exists(dir.Combine("blob")));
    }

    [Fact]
    public async Task Body_longer_than_the_descriptor_without_content_length_is_cut_off()
    {
        using var dir = new TempDirectory("blob");
        var content = Bytes(10_000);
        using var fake = new FakeRegistry
        {
            Intercept = _ =>
            {
                var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new MemoryStream(content)) };
                response.Content.Headers.ContentLength = null;
                return response;
            },
        };
        using var client = Client(fake);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = Digest.Sha256(content), Size = 4_000 };
        await Assert.ThrowsAsync<BlobSizeMismatchException>(() => client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None));
        Assert.False(File.Exists(dir.Combine("blob")));
    }

    [Fact]
    public async Task Retries_503_then_downloads()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        var content = Bytes(10_000);
        var blob = fake.AddBlob("team/app", content);
        var failures = 3;
        fake.Intercept = _ => failures-- > 0 ? FakeRegistry.Status(HttpStatusCode.ServiceUnavailable) : null;
        using var client = Client(fake);
        await client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None);
        Assert.Equal(content, await File.ReadAllBytesAsync(dir.Combine("blob")));
        Assert.Equal(4, fake.Requests.Count);
    }

    [Fact]
    public async Task Missing_blob_is_a_typed_error()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry();
        using var client = Client(fake);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = Digest.Sha256("x"u8), Size = 1 };
        var error = await Assert.ThrowsAsync<BlobNotFoundException>(() => client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None));
        Assert.Contains(blob.Digest.Value, error.Message, StringComparison.Ordinal);
        Assert.Contains("localhost:5000/team/app", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirect_to_blob_storage_does_not_carry_the_authorization_header()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry { Auth = FakeAuth.Bearer, RedirectBlobsToStorage = true };
        var content = Bytes(20_000);
        var blob = fake.AddBlob("team/app", content);
        using var client = Client(fake);

        await client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(dir.Combine("blob")));
        var authorized = fake.RegistryRequests.Last();
        Assert.StartsWith("Bearer ", authorized.Authorization, StringComparison.Ordinal);
        var storage = Assert.Single(fake.Requests, r => r.Uri.Host == FakeRegistry.StorageHost);
        Assert.Null(storage.Authorization);
        Assert.Equal("?sig=abc", storage.Uri.Query);
    }

    [Fact]
    public async Task Gives_up_after_max_attempts_of_dropped_connections()
    {
        using var dir = new TempDirectory("blob");
        using var fake = new FakeRegistry { CutBlobAfterBytes = 0, CutsRemaining = 100 };
        var blob = fake.AddBlob("team/app", Bytes(1000));
        using var client = Client(fake);
        var error = await Assert.ThrowsAsync<RegistryProtocolException>(() => client.DownloadBlobAsync(App, blob, dir.Combine("blob"), null, CancellationToken.None));
        Assert.Contains("4 attempts", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, fake.Requests.Count);
    }

    // ---- push ----

    [Fact]
    public async Task Push_skips_a_blob_the_registry_has()
    {
        using var fake = new FakeRegistry();
        var blob = fake.AddBlob("team/app", Bytes(100));
        using var client = Client(fake);
        var opened = 0;
        await client.PushBlobAsync(App, blob, () => { opened++; return new MemoryStream(); }, null, null, CancellationToken.None);
        Assert.Equal(0, opened);
        Assert.Equal([HttpMethod.Head], fake.Requests.Select(r => r.Method));
        Assert.True(await client.BlobExistsAsync(App, blob.Digest, CancellationToken.None));
        Assert.False(await client.BlobExistsAsync(App, Digest.Sha256("nope"u8), CancellationToken.None));
    }

    [Fact]
    public async Task Pushes_a_small_blob_in_one_put()
    {
        using var fake = new FakeRegistry();
        var content = Bytes(5000);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Sha256(content), Size = content.Length };
        var progress = new Recorder();
        using var client = Client(fake);

        await client.PushBlobAsync(App, blob, () => new MemoryStream(content), null, progress, CancellationToken.None);

        Assert.Equal(content, fake.GetBlob("team/app", blob.Digest));
        Assert.Equal(["HEAD", "POST", "PUT"], fake.Requests.Select(r => r.Method.Method));
        var put = fake.Requests.Last();
        Assert.Contains("_state=", put.Uri.Query, StringComparison.Ordinal);
        Assert.Contains("digest=sha256%3A", put.Uri.Query, StringComparison.Ordinal);
        Assert.Equal(5000, put.BodyLength);
        Assert.Equal(5000, progress.Values[^1]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pushes_a_big_blob_in_chunks(bool absoluteLocation)
    {
        using var fake = new FakeRegistry { AbsoluteUploadLocation = absoluteLocation };
        var content = Bytes(25_000);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Sha256(content), Size = content.Length };
        using var client = Client(fake, RegistryClientTests.Options() with { MonolithicLimit = 10_000, ChunkSize = 10_000 });

        await client.PushBlobAsync(App, blob, () => new MemoryStream(content), null, null, CancellationToken.None);

        Assert.Equal(content, fake.GetBlob("team/app", blob.Digest));
        var patches = fake.Requests.Where(r => r.Method == HttpMethod.Patch).ToList();
        Assert.Equal(["0-9999", "10000-19999", "20000-24999"], patches.Select(p => p.ContentRange));
        Assert.All(patches, p => Assert.Equal("application/octet-stream", p.ContentType));
        var put = fake.Requests.Last();
        Assert.Equal(HttpMethod.Put, put.Method);
        Assert.Equal(0, put.BodyLength);
    }

    [Fact]
    public async Task Chunked_upload_restarts_after_a_failed_chunk()
    {
        using var fake = new FakeRegistry();
        var content = Bytes(25_000);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Sha256(content), Size = content.Length };
        var patches = 0;
        fake.Intercept = r => r.Method == HttpMethod.Patch && ++patches == 2 ? FakeRegistry.Status(HttpStatusCode.BadGateway) : null;
        var opened = 0;
        using var client = Client(fake, RegistryClientTests.Options() with { MonolithicLimit = 10_000, ChunkSize = 10_000 });

        await client.PushBlobAsync(App, blob, () => { opened++; return new MemoryStream(content); }, null, null, CancellationToken.None);

        Assert.Equal(content, fake.GetBlob("team/app", blob.Digest));
        Assert.Equal(2, opened);
        Assert.Equal(2, fake.Requests.Count(r => r.Method == HttpMethod.Post));
    }

    [Theory]
    [InlineData(false, 0L)]
    [InlineData(true, 0L)]
    [InlineData(true, 500L)]
    public async Task Content_shorter_than_its_descriptor_is_refused(bool wrapped, long chunkSize)
    {
        using var fake = new FakeRegistry { WrapContentErrors = wrapped };
        var content = Bytes(1000);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Sha256(content), Size = 2000 };
        var options = chunkSize > 0 ? RegistryClientTests.Options() with { MonolithicLimit = chunkSize, ChunkSize = chunkSize } : null;
        using var client = Client(fake, options);
        await Assert.ThrowsAsync<BlobSizeMismatchException>(() => client.PushBlobAsync(App, blob, () => new MemoryStream(content), null, null, CancellationToken.None));
    }

    [Fact]
    public async Task Mounts_from_another_repository_on_the_same_registry()
    {
        using var fake = new FakeRegistry { Auth = FakeAuth.Bearer };
        var blob = fake.AddBlob("team/base", Bytes(3000));
        using var client = Client(fake);

        await client.PushBlobAsync(App, blob, () => throw new InvalidOperationException("must not read"), new ImageReference(Host, "team/base", "v1", null), null, CancellationToken.None);

        Assert.NotNull(fake.GetBlob("team/app", blob.Digest));
        var post = Assert.Single(fake.RegistryRequests, r => r.Method == HttpMethod.Post && r.Authorization is not null);
        Assert.Contains($"mount={Uri.EscapeDataString(blob.Digest.Value)}", post.Uri.Query, StringComparison.Ordinal);
        Assert.Contains("from=team%2Fbase", post.Uri.Query, StringComparison.Ordinal);
        var mountToken = fake.TokenRequests.Last();
        Assert.Contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush", mountToken.Uri.Query, StringComparison.Ordinal);
        Assert.Contains("scope=repository%3Ateam%2Fbase%3Apull", mountToken.Uri.Query, StringComparison.Ordinal);
        Assert.DoesNotContain(fake.Requests, r => r.Method == HttpMethod.Put || r.Method == HttpMethod.Patch);
    }

    [Fact]
    public async Task Mount_refused_with_202_falls_back_to_upload()
    {
        using var fake = new FakeRegistry { AllowMount = false };
        var content = Bytes(3000);
        var blob = fake.AddBlob("team/base", content);
        using var client = Client(fake);

        await client.PushBlobAsync(App, blob, () => new MemoryStream(content), new ImageReference(Host, "team/base", null, null), null, CancellationToken.None);

        Assert.Equal(content, fake.GetBlob("team/app", blob.Digest));
        Assert.Equal(["HEAD", "POST", "PUT"], fake.Requests.Select(r => r.Method.Method));
        Assert.Contains("mount=", fake.Requests.ElementAt(1).Uri.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_mount_across_registries()
    {
        using var fake = new FakeRegistry();
        var content = Bytes(3000);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Sha256(content), Size = content.Length };
        using var client = Client(fake);
        await client.PushBlobAsync(App, blob, () => new MemoryStream(content), new ImageReference("other.example", "team/base", null, null), null, CancellationToken.None);
        Assert.DoesNotContain(fake.Requests, r => r.Uri.Query.Contains("mount=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Push_with_token_auth_asks_for_push_scope()
    {
        using var fake = new FakeRegistry { Auth = FakeAuth.Bearer };
        var content = Bytes(3000);
        var blob = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Sha256(content), Size = content.Length };
        using var client = Client(fake, RegistryClientTests.Options() with { MonolithicLimit = 1000, ChunkSize = 1000 });

        await client.PushBlobAsync(App, blob, () => new MemoryStream(content), null, null, CancellationToken.None);
        var manifestDigest = await client.PushManifestAsync(new ImageReference(Host, "team/app", "v1", null), "{}"u8.ToArray(), MediaTypes.OciManifest, CancellationToken.None);

        Assert.Equal(content, fake.GetBlob("team/app", blob.Digest));
        Assert.Equal(Digest.Sha256("{}"u8), manifestDigest);
        var token = Assert.Single(fake.TokenRequests);
        Assert.Contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush", token.Uri.Query, StringComparison.Ordinal);
        Assert.Equal(3, fake.Requests.Count(r => r.Method == HttpMethod.Patch));
    }
}
