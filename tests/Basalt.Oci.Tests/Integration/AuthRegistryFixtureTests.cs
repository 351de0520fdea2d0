using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Integration;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class BasicAuthRegistryFixtureTests : IClassFixture<BasicAuthRegistryFixture>
{
    private readonly BasicAuthRegistryFixture _registry;

    public BasicAuthRegistryFixtureTests(BasicAuthRegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Anonymous_request_is_rejected_with_a_basic_challenge()
    {
        using var client = _registry.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("v2/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Basic", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task Right_credentials_are_accepted_and_a_wrong_password_is_not()
    {
        using var client = _registry.CreateHttpClient(authenticate: true);
        using var accepted = await client.GetAsync(new Uri("v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);

        using var wrong = _registry.CreateHttpClient();
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_registry.Credentials!.Username}:not-the-password")));
        using var rejected = await wrong.GetAsync(new Uri("v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
    }

    [Fact]
    public async Task Skopeo_pushes_with_the_credentials_of_a_docker_config_file()
    {
        Requires.Root();
        using var temp = new TempDirectory("basic-skopeo");
        var tools = new ReferenceTools();
        var rootfs = temp.Combine("rootfs");
        Directory.CreateDirectory(rootfs);
        await File.WriteAllTextAsync(Path.Combine(rootfs, "hello.txt"), "hello\n");
        await tools.BuildImageWithUmociAsync(temp.Combine("layout"), "v1", rootfs);
        var config = _registry.WriteDockerConfig(temp.Combine("docker"));
        var reference = $"docker://{_registry.Reference("fixture/basic", "v1")}";

        await tools.CopyWithSkopeoAsync($"oci:{temp.Combine("layout")}:v1", reference, config.Path);
        var inspected = await tools.InspectWithSkopeoAsync(reference, config.Path);

        using var json = JsonDocument.Parse(inspected);
        Assert.Equal(1, json.RootElement.GetProperty("Layers").GetArrayLength());
        await Assert.ThrowsAsync<Basalt.Platform.ToolFailedException>(() => tools.InspectWithSkopeoAsync(reference));
    }
}

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class TokenAuthRegistryFixtureTests : IClassFixture<TokenAuthRegistryFixture>
{
    private readonly TokenAuthRegistryFixture _registry;

    public TokenAuthRegistryFixtureTests(TokenAuthRegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Anonymous_request_gets_a_bearer_challenge_naming_the_token_server()
    {
        using var client = _registry.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("v2/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains($"realm=\"{_registry.TokenServer!.Realm}\"", challenge.Parameter, StringComparison.Ordinal);
        Assert.Contains($"service=\"{_registry.TokenServer.Service}\"", challenge.Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_server_wants_credentials_and_its_tokens_open_the_registry()
    {
        var tokenServer = _registry.TokenServer!;
        using var anonymous = new HttpClient();
        using var refused = await anonymous.GetAsync(new Uri(tokenServer.Realm, $"?service={tokenServer.Service}&scope=repository:fixture/token:pull,push"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using var authenticated = _registry.CreateHttpClient(authenticate: true);
        using var granted = await authenticated.GetAsync(new Uri(tokenServer.Realm, $"?service={tokenServer.Service}&scope=repository:fixture/token:pull,push"));
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        using var json = JsonDocument.Parse(await granted.Content.ReadAsStringAsync());
        var token = json.RootElement.GetProperty("token").GetString();

        using var registry = _registry.CreateHttpClient();
        registry.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var ping = await registry.GetAsync(new Uri("v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        var content = RawRegistryApi.RandomBytes(1000);
        var digest = await RawRegistryApi.UploadBlobAsync(registry, "fixture/token", content);
        Assert.Equal(content, await registry.GetByteArrayAsync(new Uri($"v2/fixture/token/blobs/{digest}", UriKind.Relative)));
    }

    [Fact]
    public async Task Registry_rejects_a_token_for_another_repository_and_one_signed_by_another_key()
    {
        var tokenServer = _registry.TokenServer!;
        var otherRepository = tokenServer.IssueToken("basalt", [("repository", "fixture/other", ["pull", "push"])]);
        using var client = _registry.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", otherRepository);
        using var wrongScope = await client.PostAsync(new Uri("v2/fixture/token/blobs/uploads/", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongScope.StatusCode);

        await using var impostor = await TokenServer.StartAsync(tokenServer.Service, tokenServer.Issuer, credentials: null);
        var forged = impostor.IssueToken("basalt", [("repository", "fixture/token", ["pull", "push"])]);
        using var forgedClient = _registry.CreateHttpClient();
        forgedClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", forged);
        using var rejected = await forgedClient.GetAsync(new Uri("v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
    }

    [Fact]
    public async Task Skopeo_pushes_and_inspects_through_the_token_flow_with_a_docker_config_file()
    {
        Requires.Root();
        using var temp = new TempDirectory("token-skopeo");
        var tools = new ReferenceTools();
        var rootfs = temp.Combine("rootfs");
        Directory.CreateDirectory(rootfs);
        await File.WriteAllTextAsync(Path.Combine(rootfs, "hello.txt"), "hello\n");
        await tools.BuildImageWithUmociAsync(temp.Combine("layout"), "v1", rootfs);
        var config = _registry.WriteDockerConfig(temp.Combine("docker"));
        var reference = $"docker://{_registry.Reference("fixture/skopeo-token", "v1")}";

        await tools.CopyWithSkopeoAsync($"oci:{temp.Combine("layout")}:v1", reference, config.Path);
        var inspected = await tools.InspectWithSkopeoAsync(reference, config.Path);

        using var json = JsonDocument.Parse(inspected);
        Assert.Equal(1, json.RootElement.GetProperty("Layers").GetArrayLength());
        Assert.Contains(_registry.TokenServer!.Requests, r => r.Granted && r.Account == _registry.Credentials!.Username
            && r.Scopes.Any(s => s.StartsWith("repository:fixture/skopeo-token:", StringComparison.Ordinal) && s.Contains("push", StringComparison.Ordinal)));
    }
}
