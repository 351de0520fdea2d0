using Basalt.Oci.Registry;

namespace Basalt.Oci.Tests.Registry;

public sealed class EndpointAndLinkTests
{
    private static readonly IReadOnlySet<string> NoInsecure = new HashSet<string>();

    [Theory]
    [InlineData("localhost", "http")]
    [InlineData("localhost:5000", "http")]
    [InlineData("127.0.0.1:5000", "http")]
    [InlineData("127.10.20.30", "http")]
    [InlineData("[::1]:5000", "http")]
    [InlineData("[::1]", "http")]
    [InlineData("registry.example:5000", "https")]
    [InlineData("docker.io", "https")]
    [InlineData("128.0.0.1:5000", "https")]
    [InlineData("localhost.example.com", "https")]
    public void Only_loopback_is_plain_http_by_default(string registry, string scheme) =>
        Assert.Equal(scheme, RegistryEndpoint.Scheme(registry, NoInsecure));

    [Theory]
    [InlineData("registry.example:5000", "registry.example:5000", "http")]
    [InlineData("registry.example:5000", "registry.example", "http")]
    [InlineData("registry.example", "registry.example", "http")]
    [InlineData("registry.example:5000", "other.example", "https")]
    [InlineData("registry.example", "registry.example:5000", "https")]
    public void Insecure_registries_are_plain_http(string registry, string insecure, string scheme) =>
        Assert.Equal(scheme, RegistryEndpoint.Scheme(registry, new HashSet<string>(StringComparer.OrdinalIgnoreCase) { insecure }));

    [Fact]
    public void Docker_hub_api_lives_at_registry_1() =>
        Assert.Equal(new Uri("https://registry-1.docker.io/v2/"), RegistryEndpoint.BaseUri("docker.io", NoInsecure));

    [Theory]
    [InlineData("</v2/a/tags/list?n=2&last=b>; rel=\"next\"", "http://r:5000/v2/a/tags/list?n=2&last=b")]
    [InlineData("<http://r:5000/v2/a/tags/list?last=c,d>; rel=next", "http://r:5000/v2/a/tags/list?last=c,d")]
    [InlineData("</prev>; rel=\"prev\", </v2/a/tags/list?last=z>; rel=\"next\"", "http://r:5000/v2/a/tags/list?last=z")]
    [InlineData("</v2/x>; title=\"a, b\"; rel=\"next\"", "http://r:5000/v2/x")]
    public void Link_header_next(string header, string expected) =>
        Assert.Equal(new Uri(expected), LinkHeader.Next([header], new Uri("http://r:5000/v2/a/tags/list")));

    [Theory]
    [InlineData("</prev>; rel=\"prev\"")]
    [InlineData("garbage")]
    [InlineData("")]
    public void Link_header_without_next(string header) =>
        Assert.Null(LinkHeader.Next([header], new Uri("http://r:5000/v2/a/tags/list")));

    [Theory]
    [InlineData("0-99", 99L)]
    [InlineData("bytes=0-1023", 1023L)]
    [InlineData("", null)]
    [InlineData("junk", null)]
    public void Upload_range_end(string header, long? end) => Assert.Equal(end, RegistryClient.ParseUploadedEnd(header));
}
