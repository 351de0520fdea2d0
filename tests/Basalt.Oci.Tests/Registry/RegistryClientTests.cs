using System.Net;
using System.Net.Sockets;
using System.Text;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Registry;

public sealed class RegistryClientTests
{
    private const string Host = "localhost:5000";
    private static readonly ImageReference App = new(Host, "team/app", "latest", null);

    internal static RegistryOptions Options(string? authFile = null) => new()
    {
        MaxAttempts = 4,
        InitialBackoff = TimeSpan.FromMilliseconds(1),
        Timeout = TimeSpan.FromSeconds(10),
        AuthFilePath = authFile ?? "/nonexistent/basalt-test-auth.json",
    };

    private static RegistryClient Client(FakeRegistry fake, RegistryOptions? options = null, TimeProvider? time = null) =>
        new(options ?? Options(), fake, null, time);

    private static byte[] Bytes(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string WriteAuthFile(TempDirectory dir, string host, string user, string password)
    {
        var path = dir.Combine("auth.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        File.WriteAllText(path, "{\"auths\":{\"" + host + "\":{\"auth\":\"" + auth + "\"}}}");
        return path;
    }

    // ---- manifests ----

    [Fact]
    public async Task Gets_a_manifest_by_tag_with_accept_types_and_digest()
    {
        using var fake = new FakeRegistry();
        var content = Encoding.UTF8.GetBytes("""{"schemaVersion":2}""");
        var digest = fake.AddManifest("team/app", "latest", content, MediaTypes.OciIndex);
        using var client = Client(fake);

        var manifest = await client.GetManifestAsync(App, CancellationToken.None);

        Assert.Equal(content, manifest.Content);
        Assert.Equal(MediaTypes.OciIndex, manifest.MediaType);
        Assert.Equal(digest, manifest.Digest);
        var request = Assert.Single(fake.Requests);
        Assert.Equal("http://localhost:5000/v2/team/app/manifests/latest", request.Uri.ToString());
        foreach (var accepted in MediaTypes.AcceptedManifests)
        {
            Assert.Contains(accepted, request.Accept, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Manifest_fetched_by_digest_is_verified()
    {
        using var fake = new FakeRegistry();
        var digest = fake.AddManifest("team/app", "latest", Encoding.UTF8.GetBytes("""{"a":1}"""));
        fake.Tamper("team/app", digest.Value, Encoding.UTF8.GetBytes("""{"a":2}"""));
        using var client = Client(fake);

        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => client.GetManifestAsync(App.WithDigest(digest), CancellationToken.None));
        Assert.Equal(digest, error.Expected);
    }

    [Fact]
    public async Task Manifest_not_matching_docker_content_digest_is_rejected()
    {
        using var fake = new FakeRegistry
        {
            Intercept = r =>
            {
                var response = FakeRegistry.Json(HttpStatusCode.OK, "{}");
                response.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digest.Sha256("other"u8).Value);
                return response;
            },
        };
        using var client = Client(fake);
        await Assert.ThrowsAsync<DigestMismatchException>(() => client.GetManifestAsync(App, CancellationToken.None));
    }

    [Fact]
    public async Task Generic_content_type_falls_back_to_the_documents_media_type()
    {
        using var fake = new FakeRegistry { Intercept = r => FakeRegistry.Json(HttpStatusCode.OK, $$"""{"mediaType":"{{MediaTypes.DockerManifest}}"}""") };
        using var client = Client(fake);
        var manifest = await client.GetManifestAsync(App, CancellationToken.None);
        Assert.Equal(MediaTypes.DockerManifest, manifest.MediaType);
        Assert.Equal(Digest.Sha256(manifest.Content), manifest.Digest);
    }

    [Fact]
    public async Task Missing_manifest_is_a_typed_error_naming_the_reference()
    {
        using var fake = new FakeRegistry();
        using var client = Client(fake);
        var error = await Assert.ThrowsAsync<ManifestNotFoundException>(() => client.GetManifestAsync(App, CancellationToken.None));
        Assert.Contains("localhost:5000/team/app:latest", error.Message, StringComparison.Ordinal);
        Assert.Contains("manifest unknown", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_manifest_is_refused()
    {
        using var fake = new FakeRegistry();
        fake.AddManifest("team/app", "latest", new byte[RegistryClient.ManifestSizeLimit + 1]);
        using var client = Client(fake);
        await Assert.ThrowsAsync<ManifestTooLargeException>(() => client.GetManifestAsync(App, CancellationToken.None));
    }

    [Fact]
    public async Task Resolves_digest_with_head()
    {
        using var fake = new FakeRegistry();
        var digest = fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        using var client = Client(fake);
        Assert.Equal(digest, await client.ResolveDigestAsync(App, CancellationToken.None));
        Assert.Equal([HttpMethod.Head], fake.Requests.Select(r => r.Method));
    }

    [Fact]
    public async Task Resolve_falls_back_to_get_when_head_has_no_digest()
    {
        using var fake = new FakeRegistry { HeadOmitsDigest = true };
        var digest = fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        using var client = Client(fake);
        Assert.Equal(digest, await client.ResolveDigestAsync(App, CancellationToken.None));
        Assert.Equal([HttpMethod.Head, HttpMethod.Get], fake.Requests.Select(r => r.Method));
    }

    [Fact]
    public async Task Pushes_a_manifest_with_its_media_type()
    {
        using var fake = new FakeRegistry();
        var content = "{\"schemaVersion\":2}"u8.ToArray();
        using var client = Client(fake);
        var digest = await client.PushManifestAsync(App.WithTag("v1"), content, MediaTypes.DockerManifest, CancellationToken.None);
        Assert.Equal(Digest.Sha256(content), digest);
        var stored = fake.GetManifest("team/app", "v1");
        Assert.NotNull(stored);
        Assert.Equal(MediaTypes.DockerManifest, stored.Value.MediaType);
        Assert.Equal(content, stored.Value.Content);
    }

    [Fact]
    public async Task Ping_uses_https_unless_loopback_or_insecure()
    {
        using var fake = new FakeRegistry();
        using (var client = Client(fake))
        {
            await client.PingAsync("registry.example:5000", CancellationToken.None);
            await client.PingAsync("127.0.0.1:5000", CancellationToken.None);
            await client.PingAsync("docker.io", CancellationToken.None);
        }

        using (var insecure = Client(fake, Options() with { InsecureRegistries = new HashSet<string> { "registry.example:5000" } }))
        {
            await insecure.PingAsync("registry.example:5000", CancellationToken.None);
        }

        Assert.Equal(
            ["https://registry.example:5000/v2/", "http://127.0.0.1:5000/v2/", "https://registry-1.docker.io/v2/", "http://registry.example:5000/v2/"],
            fake.Requests.Select(r => r.Uri.ToString()));
    }

    // ---- auth ----

    [Fact]
    public async Task Bearer_token_is_fetched_once_per_scope_and_cached()
    {
        using var fake = new FakeRegistry { Auth = FakeAuth.Bearer };
        fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        fake.AddManifest("team/other", "latest", "{}"u8.ToArray());
        using var client = Client(fake);

        await client.GetManifestAsync(App, CancellationToken.None);
        await client.GetManifestAsync(App, CancellationToken.None);
        await client.ResolveDigestAsync(App, CancellationToken.None);
        Assert.Single(fake.TokenRequests);
        await client.GetManifestAsync(new ImageReference(Host, "team/other", "latest", null), CancellationToken.None);

        var tokens = fake.TokenRequests.ToList();
        Assert.Equal(2, tokens.Count);
        Assert.Contains("service=fake-registry", tokens[0].Uri.Query, StringComparison.Ordinal);
        Assert.Contains("scope=repository%3Ateam%2Fapp%3Apull", tokens[0].Uri.Query, StringComparison.Ordinal);
        Assert.Contains("scope=repository%3Ateam%2Fother%3Apull", tokens[1].Uri.Query, StringComparison.Ordinal);
        Assert.Null(tokens[0].Authorization);
        // One 401 for the first request only; the second repository gets its token before asking.
        Assert.Single(fake.RegistryRequests, r => r.Authorization is null);
    }

    [Fact]
    public async Task Expired_token_is_fetched_again()
    {
        using var fake = new FakeRegistry { Auth = FakeAuth.Bearer, TokenExpiresIn = 120, TokenAsAccessToken = true };
        fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        var time = new ManualTime();
        using var client = Client(fake, time: time);

        await client.GetManifestAsync(App, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(100));
        await client.GetManifestAsync(App, CancellationToken.None);
        Assert.Single(fake.TokenRequests);
        time.Advance(TimeSpan.FromSeconds(20));
        await client.GetManifestAsync(App, CancellationToken.None);
        Assert.Equal(2, fake.TokenRequests.Count());
    }

    [Fact]
    public async Task Basic_auth_from_the_auth_file()
    {
        using var dir = new TempDirectory("auth");
        using var fake = new FakeRegistry { Auth = FakeAuth.Basic, Username = "alice", Password = "pw" };
        fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        using var client = Client(fake, Options(WriteAuthFile(dir, "http://localhost:5000", "alice", "pw")));

        await client.GetManifestAsync(App, CancellationToken.None);
        await client.GetManifestAsync(App, CancellationToken.None);

        var requests = fake.Requests.ToList();
        Assert.Equal(3, requests.Count);
        Assert.Null(requests[0].Authorization);
        Assert.StartsWith("Basic ", requests[1].Authorization, StringComparison.Ordinal);
        Assert.StartsWith("Basic ", requests[2].Authorization, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Basic_auth_without_credentials_says_where_it_looked()
    {
        using var dir = new TempDirectory("auth");
        using var fake = new FakeRegistry { Auth = FakeAuth.Basic, Username = "alice", Password = "pw" };
        using var client = Client(fake, Options(dir.Combine("missing.json")));
        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => client.GetManifestAsync(App, CancellationToken.None));
        Assert.Contains("missing.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_basic_password_is_an_authentication_error_naming_the_file()
    {
        using var dir = new TempDirectory("auth");
        using var fake = new FakeRegistry { Auth = FakeAuth.Basic, Username = "alice", Password = "pw" };
        var authFile = WriteAuthFile(dir, Host, "alice", "wrong");
        using var client = Client(fake, Options(authFile));
        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => client.GetManifestAsync(App, CancellationToken.None));
        Assert.Contains(authFile, error.CredentialSource, StringComparison.Ordinal);
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_service_gets_basic_credentials_and_wrong_ones_fail_clearly()
    {
        using var dir = new TempDirectory("auth");
        using var fake = new FakeRegistry { Auth = FakeAuth.Bearer, Username = "alice", Password = "pw" };
        fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        using (var client = Client(fake, Options(WriteAuthFile(dir, Host, "alice", "pw"))))
        {
            await client.GetManifestAsync(App, CancellationToken.None);
        }

        Assert.StartsWith("Basic ", Assert.Single(fake.TokenRequests).Authorization, StringComparison.Ordinal);

        var badFile = WriteAuthFile(dir, Host, "alice", "nope");
        using var bad = Client(fake, Options(badFile));
        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => bad.GetManifestAsync(App, CancellationToken.None));
        Assert.Contains("token service", error.Message, StringComparison.Ordinal);
        Assert.Contains(badFile, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forbidden_is_an_authentication_error()
    {
        using var fake = new FakeRegistry { Intercept = _ => FakeRegistry.Error(HttpStatusCode.Forbidden, "DENIED", "requested access to the resource is denied") };
        using var client = Client(fake);
        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => client.GetManifestAsync(App, CancellationToken.None));
        Assert.Contains("requested access to the resource is denied", error.Message, StringComparison.Ordinal);
    }

    // ---- errors and retries ----

    [Fact]
    public async Task Retries_503_then_succeeds()
    {
        using var fake = new FakeRegistry();
        fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        var failures = 2;
        fake.Intercept = _ => failures-- > 0 ? FakeRegistry.Status(HttpStatusCode.ServiceUnavailable) : null;
        using var client = Client(fake);
        await client.GetManifestAsync(App, CancellationToken.None);
        Assert.Equal(3, fake.Requests.Count);
    }

    [Fact]
    public async Task Honours_retry_after_on_429()
    {
        using var fake = new FakeRegistry();
        fake.AddManifest("team/app", "latest", "{}"u8.ToArray());
        var failures = 1;
        fake.Intercept = _ =>
        {
            if (failures-- <= 0)
            {
                return null;
            }

            var response = FakeRegistry.Status(HttpStatusCode.TooManyRequests);
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromMilliseconds(300));
            return response;
        };
        using var client = Client(fake);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await client.GetManifestAsync(App, CancellationToken.None);
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(250), $"retried after {started.Elapsed}");
    }

    [Fact]
    public async Task Persistent_500_reports_the_registry_error_message()
    {
        using var fake = new FakeRegistry { Intercept = _ => FakeRegistry.Error(HttpStatusCode.InternalServerError, "UNKNOWN", "storage backend exploded") };
        using var client = Client(fake);
        var error = await Assert.ThrowsAsync<RegistryProtocolException>(() => client.GetManifestAsync(App, CancellationToken.None));
        Assert.Contains("storage backend exploded", error.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.InternalServerError, error.Status);
        Assert.Equal(4, fake.Requests.Count);
    }

    [Fact]
    public async Task Connection_refused_is_registry_unreachable_with_a_hint()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new RegistryClient(Options() with { MaxAttempts = 2 });
        var error = await Assert.ThrowsAsync<RegistryUnreachableException>(() => client.PingAsync($"127.0.0.1:{port}", CancellationToken.None));
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("--insecure-registry", error.Hint, StringComparison.Ordinal);
    }

    // ---- tags ----

    [Fact]
    public async Task Lists_tags_across_pages()
    {
        using var fake = new FakeRegistry { TagPageSize = 2 };
        foreach (var tag in new[] { "a", "b", "c", "d", "e" })
        {
            fake.AddManifest("team/app", tag, Encoding.UTF8.GetBytes($"{{\"t\":\"{tag}\"}}"));
        }

        using var client = Client(fake);
        var tags = await client.ListTagsAsync(App, CancellationToken.None);
        Assert.Equal(["a", "b", "c", "d", "e"], tags);
        Assert.Equal(3, fake.Requests.Count);
    }

    [Fact]
    public async Task Tags_of_a_missing_repository_is_a_typed_error()
    {
        using var fake = new FakeRegistry();
        using var client = Client(fake);
        await Assert.ThrowsAsync<RepositoryNotFoundException>(() => client.ListTagsAsync(App, CancellationToken.None));
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}
