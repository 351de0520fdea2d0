using System.Text;
using Basalt.Oci.Registry;
using Basalt.Oci.Registry.Auth;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Registry;

public sealed class CredentialStoreTests
{
    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static CredentialStore Write(TempDirectory dir, string json)
    {
        var path = dir.Combine("config.json");
        File.WriteAllText(path, json);
        return new CredentialStore(path);
    }

    [Fact]
    public void Reads_base64_auth_by_host()
    {
        using var dir = new TempDirectory("creds");
        var store = Write(dir, "{\"auths\":{\"localhost:5000\":{\"auth\":\"" + B64("alice:s3cr:et") + "\"}}}");
        var credential = store.Find("localhost:5000", "app");
        Assert.NotNull(credential);
        Assert.Equal("alice", credential.Username);
        Assert.Equal("s3cr:et", credential.Password);
        Assert.Equal(dir.Combine("config.json"), credential.Source);
        Assert.Null(store.Find("localhost:5001", "app"));
    }

    [Fact]
    public void Reads_username_and_password_fields_and_url_keys()
    {
        using var dir = new TempDirectory("creds");
        var store = Write(dir, """{"auths":{"https://reg.example:443/v2/":{"username":"bob","password":"pw"}}}""");
        Assert.Equal("bob", store.Find("reg.example:443", "x")?.Username);
    }

    [Fact]
    public void Docker_hub_aliases_index_docker_io_v1()
    {
        using var dir = new TempDirectory("creds");
        var store = Write(dir, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + B64("hub:pw") + "\"}}}");
        Assert.Equal("hub", store.Find("docker.io", "library/debian")?.Username);
        Assert.Equal("hub", store.Find("registry-1.docker.io", "library/debian")?.Username);
    }

    [Fact]
    public void Repository_scoped_entry_wins_over_host_entry()
    {
        using var dir = new TempDirectory("creds");
        var store = Write(dir, "{\"auths\":{\"quay.io\":{\"auth\":\"" + B64("host:pw") + "\"},\"quay.io/org\":{\"auth\":\"" + B64("org:pw") + "\"}}}");
        Assert.Equal("org", store.Find("quay.io", "org/app")?.Username);
        Assert.Equal("host", store.Find("quay.io", "other/app")?.Username);
    }

    [Fact]
    public void Missing_file_means_no_credentials_and_says_where_it_looked()
    {
        using var dir = new TempDirectory("creds");
        var store = new CredentialStore(dir.Combine("absent.json"));
        Assert.Null(store.Find("localhost:5000", "app"));
        Assert.Contains("absent.json", store.DescribeSources(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"auths":{"r":{"auth":"***"}}}""")]
    [InlineData("""{"auths":{"r":{"auth":"bm9jb2xvbg=="}}}""")]
    public void Broken_file_is_a_typed_error(string json)
    {
        using var dir = new TempDirectory("creds");
        var store = Write(dir, json);
        Assert.Throws<RegistryAuthFileException>(() => store.Find("r", "app"));
    }

    [Fact]
    public void Default_search_order()
    {
        var env = new Dictionary<string, string> { ["REGISTRY_AUTH_FILE"] = "/a/auth.json", ["DOCKER_CONFIG"] = "/d", ["HOME"] = "/home/u" };
        Assert.Equal(["/a/auth.json", "/d/config.json", "/home/u/.docker/config.json"], CredentialStore.DefaultCandidates(env.GetValueOrDefault));
        Assert.Equal(["/home/u/.docker/config.json"], CredentialStore.DefaultCandidates(k => k == "HOME" ? "/home/u" : null));
    }
}
