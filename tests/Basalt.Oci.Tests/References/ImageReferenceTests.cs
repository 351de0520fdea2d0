using Basalt.Oci.References;

namespace Basalt.Oci.Tests.References;

public sealed class ImageReferenceTests
{
    private const string Hex = "8369762ae90ec0b2252931df46d51aa11a4c0727669c41c7157e6da8a88430f3";
    private const string Sha256 = "sha256:" + Hex;
    private const string Sha512 = "sha512:" + Hex + Hex;
    private const string Tag128 =
        "t234567890123456789012345678901234567890123456789012345678901234" +
        "5678901234567890123456789012345678901234567890123456789012345678";

    [Theory]
    // Docker Hub defaults: registry, library/ for single names, tag latest.
    [InlineData("debian", "docker.io", "library/debian", "latest", null)]
    [InlineData("debian:bookworm", "docker.io", "library/debian", "bookworm", null)]
    [InlineData("library/debian", "docker.io", "library/debian", "latest", null)]
    [InlineData("docker.io/debian", "docker.io", "library/debian", "latest", null)]
    [InlineData("docker.io/library/debian:12", "docker.io", "library/debian", "12", null)]
    [InlineData("index.docker.io/debian", "docker.io", "library/debian", "latest", null)]
    [InlineData("registry-1.docker.io/foo/bar:1", "docker.io", "foo/bar", "1", null)]
    [InlineData("Docker.IO/foo", "docker.io", "library/foo", "latest", null)]
    [InlineData("foo/bar", "docker.io", "foo/bar", "latest", null)]
    [InlineData("foo/bar/baz", "docker.io", "foo/bar/baz", "latest", null)]
    [InlineData("0/1", "docker.io", "0/1", "latest", null)]
    // Registry detection: '.', ':', localhost, an upper-case first segment.
    [InlineData("localhost/foo", "localhost", "foo", "latest", null)]
    [InlineData("localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", null)]
    [InlineData("127.0.0.1:5000/os", "127.0.0.1:5000", "os", "latest", null)]
    [InlineData("[::1]:5000/os:v1", "[::1]:5000", "os", "v1", null)]
    [InlineData("[2001:db8::1]/foo", "[2001:db8::1]", "foo", "latest", null)]
    [InlineData("ghcr.io/org/image", "ghcr.io", "org/image", "latest", null)]
    [InlineData("quay.io/org/img:1.2.3-rc_1", "quay.io", "org/img", "1.2.3-rc_1", null)]
    [InlineData("myregistry:5000/img", "myregistry:5000", "img", "latest", null)]
    [InlineData("my-registry.example.com:443/team/app", "my-registry.example.com:443", "team/app", "latest", null)]
    [InlineData("Foo/bar", "Foo", "bar", "latest", null)]
    // Without a '/', a ':' starts the tag, even when the name looks like a host.
    [InlineData("localhost", "docker.io", "library/localhost", "latest", null)]
    [InlineData("foo:5000", "docker.io", "library/foo", "5000", null)]
    // Separators inside a path component.
    [InlineData("a__b/c", "docker.io", "a__b/c", "latest", null)]
    [InlineData("a_b-c---d/e__f.g", "docker.io", "a_b-c---d/e__f.g", "latest", null)]
    // Tag grammar [\w][\w.-]{0,127}.
    [InlineData("debian:_x", "docker.io", "library/debian", "_x", null)]
    [InlineData("debian:V1.0-Beta", "docker.io", "library/debian", "V1.0-Beta", null)]
    [InlineData("debian:" + Tag128, "docker.io", "library/debian", Tag128, null)]
    // Digests, with and without a tag.
    [InlineData("debian@" + Sha256, "docker.io", "library/debian", null, Sha256)]
    [InlineData("debian:12@" + Sha256, "docker.io", "library/debian", "12", Sha256)]
    [InlineData("localhost:5000/os@" + Sha512, "localhost:5000", "os", null, Sha512)]
    public void Parses_good_references(string text, string registry, string repository, string? tag, string? digest)
    {
        var reference = ImageReference.Parse(text);

        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.Value);
        Assert.Equal(ImageReference.Parse(reference.ToString()), reference);
        Assert.True(ImageReference.TryParse(text, out var again, out var error));
        Assert.Equal(reference, again);
        Assert.Empty(error);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData(" debian", "white space")]
    [InlineData("debian bookworm", "white space")]
    [InlineData("Debian", "must be lowercase, e.g. 'library/debian'")]
    [InlineData("foo/Bar", "must be lowercase")]
    [InlineData("debian:", "tag after ':' is empty")]
    [InlineData("debian:-x", "must start with a letter, a digit or '_'")]
    [InlineData("debian:.x", "must start with a letter, a digit or '_'")]
    [InlineData("debian:t!g", "contains '!'")]
    [InlineData("debian:" + Tag128 + "9", "at most 128")]
    [InlineData("debian:a/b", "port must be a number")]
    [InlineData("debian@sha256:abc", "64 lowercase hex digits")]
    [InlineData("debian@md5:" + Hex, "unsupported digest algorithm 'md5'")]
    [InlineData("debian@", "digest '' is invalid")]
    [InlineData("debian@sha256:8369762AE90EC0B2252931DF46D51AA11A4C0727669C41C7157E6DA8A88430F3", "lowercase hex")]
    [InlineData("foo//bar", "empty path component")]
    [InlineData("foo/", "empty path component")]
    [InlineData("/foo", "empty path component")]
    [InlineData("localhost:5000/", "repository name after registry 'localhost:5000' is missing")]
    [InlineData("docker.io/", "repository name after registry 'docker.io' is missing")]
    [InlineData(":tag", "repository name is missing")]
    [InlineData("@" + Sha256, "repository name is missing")]
    [InlineData("-foo", "must start and end with a lowercase letter or a digit")]
    [InlineData("foo-", "must start and end with a lowercase letter or a digit")]
    [InlineData("foo..bar", "separator '..'")]
    [InlineData("foo___bar", "separator '___'")]
    [InlineData("foo._bar", "separator '._'")]
    [InlineData("foo$bar", "contains '$'")]
    [InlineData("a:b:c", "contains ':'")]
    [InlineData("foo/bar:tag:tag2", "component 'bar:tag' contains ':'")]
    [InlineData("host_name.com/foo", "may contain only letters, digits, '-' and '.'")]
    [InlineData("-host.com/foo", "may not start or end with '-'")]
    [InlineData("host..com/foo", "empty label")]
    [InlineData("localhost:abc/foo", "port must be a number")]
    [InlineData("localhost:/foo", "port must be a number")]
    [InlineData("localhost:99999/foo", "outside 1-65535")]
    [InlineData("localhost:0/foo", "outside 1-65535")]
    [InlineData("[::1/foo", "never closes it with ']'")]
    [InlineData("[zz::1]:5000/foo", "is not an IPv6 address")]
    [InlineData("[]:5000/foo", "is not an IPv6 address")]
    [InlineData("[::1]x/foo", "only ':PORT' may follow")]
    [InlineData(Hex, "image ID")]
    public void Rejects_bad_references_saying_what_is_wrong(string text, string expected)
    {
        Assert.False(ImageReference.TryParse(text, out var reference, out var error));
        Assert.Null(reference);
        Assert.Contains(expected, error, StringComparison.Ordinal);

        var ex = Assert.Throws<InvalidReferenceException>(() => ImageReference.Parse(text));
        Assert.IsAssignableFrom<OciException>(ex);
        Assert.Contains($"'{text}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal(error, ex.Reason);
        Assert.Contains("localhost:5000/basalt/os:v1", ex.Hint, StringComparison.Ordinal);
        Assert.Equal("invalid-reference", ex.Kind);
    }

    [Fact]
    public void Null_is_rejected()
    {
        Assert.False(ImageReference.TryParse(null, out _, out var error));
        Assert.Contains("empty", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Name_longer_than_255_characters_is_rejected_and_255_is_accepted()
    {
        const string registry = "registry.example.com";
        var fits = new string('a', 255 - registry.Length - 1);
        Assert.Equal(255, ImageReference.Parse($"{registry}/{fits}").Name.Length);

        var ex = Assert.Throws<InvalidReferenceException>(() => ImageReference.Parse($"{registry}/{fits}a"));
        Assert.Contains("256 characters; at most 255", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Length_limit_counts_the_normalised_docker_hub_name()
    {
        // docker.io/library/ is added before the check, as distribution's ParseNormalizedNamed does.
        var name = new string('a', 255 - "docker.io/library/".Length);
        Assert.Equal(255, ImageReference.Parse(name).Name.Length);
        Assert.Throws<InvalidReferenceException>(() => ImageReference.Parse(name + "a"));
    }

    [Theory]
    [InlineData("localhost/x", true)]
    [InlineData("localhost:5000/x", true)]
    [InlineData("LOCALHOST/x", true)]
    [InlineData("127.0.0.1:5000/x", true)]
    [InlineData("127.1.2.3/x", true)]
    [InlineData("[::1]:5000/x", true)]
    [InlineData("[::1]/x", true)]
    [InlineData("10.0.0.1:5000/x", false)]
    [InlineData("[2001:db8::1]:5000/x", false)]
    [InlineData("128.0.0.1/x", false)]
    [InlineData("localhost.example.com/x", false)]
    [InlineData("debian", false)]
    [InlineData("localhost", false)]
    public void IsLoopback_is_true_only_for_this_machine(string text, bool expected) =>
        Assert.Equal(expected, ImageReference.Parse(text).IsLoopback);

    [Theory]
    [InlineData("localhost:5000/x", "localhost", 5000)]
    [InlineData("[::1]:5000/x", "::1", 5000)]
    [InlineData("[::1]/x", "::1", null)]
    [InlineData("ghcr.io/x", "ghcr.io", null)]
    [InlineData("debian", "docker.io", null)]
    public void Registry_host_and_port_are_split(string text, string host, int? port)
    {
        var reference = ImageReference.Parse(text);
        Assert.Equal(host, reference.RegistryHost);
        Assert.Equal(port, reference.RegistryPort);
    }

    [Fact]
    public void ToString_writes_the_fully_qualified_form()
    {
        Assert.Equal("docker.io/library/debian:latest", ImageReference.Parse("debian").ToString());
        Assert.Equal($"localhost:5000/os:v1@{Sha256}", ImageReference.Parse($"localhost:5000/os:v1@{Sha256}").ToString());
        Assert.Equal(Sha256, ImageReference.Parse($"debian:12@{Sha256}").Reference);
        Assert.Equal("12", ImageReference.Parse("debian:12").Reference);
        Assert.Equal("registry-1.docker.io", ImageReference.Parse("debian").ApiHost);
    }
}
