using Basalt.Oci.References;

namespace Basalt.Oci.Tests.References;

public sealed class ImageSourceTests
{
    [Theory]
    [InlineData("oci:debian", "docker.io/library/debian:latest")]
    [InlineData("docker:debian:12", "docker.io/library/debian:12")]
    [InlineData("debian:12", "docker.io/library/debian:12")]
    [InlineData("localhost:5000/os:v1", "localhost:5000/os:v1")]
    [InlineData("oci:localhost:5000/os:v1", "localhost:5000/os:v1")]
    [InlineData("oci:dir:5000/os", "dir:5000/os:latest")]
    public void Registry_references_with_or_without_prefix(string text, string reference)
    {
        var source = Assert.IsType<RegistrySource>(ImageSource.Parse(text));
        Assert.Equal(reference, source.Reference.ToString());
        Assert.Equal("oci:" + reference, source.ToString());
    }

    [Theory]
    [InlineData("dir:/srv/root", "/srv/root")]
    [InlineData("dir:relative/path", "relative/path")]
    [InlineData("dir:/srv/with:colon", "/srv/with:colon")]
    public void Directory_sources(string text, string path)
    {
        var source = Assert.IsType<DirectorySource>(ImageSource.Parse(text));
        Assert.Equal(path, source.Path);
        Assert.Equal(text, source.ToString());
    }

    [Fact]
    public void File_and_archive_sources()
    {
        var file = Assert.IsType<FileSource>(ImageSource.Parse("file:/images/rootfs.squashfs"));
        Assert.Equal("/images/rootfs.squashfs", file.Path);
        Assert.Equal("file:/images/rootfs.squashfs", file.ToString());

        var archive = Assert.IsType<ArchiveSource>(ImageSource.Parse("ocifile:/tmp/image.tar"));
        Assert.Equal("/tmp/image.tar", archive.Path);
        Assert.Equal("ocifile:/tmp/image.tar", archive.ToString());
    }

    [Theory]
    [InlineData("oci-layout:/srv/layout", "/srv/layout", "latest")]
    [InlineData("oci-layout:/srv/layout:v1", "/srv/layout", "v1")]
    [InlineData("oci-layout:./x:1.0", "./x", "1.0")]
    [InlineData("oci-layout:/srv/a:b:latest", "/srv/a:b", "latest")]
    [InlineData("oci-layout:/srv/a:b/layout", "/srv/a:b/layout", "latest")]
    [InlineData("oci-layout:/srv/a:b/layout:_v2-rc.1", "/srv/a:b/layout", "_v2-rc.1")]
    public void Layout_sources_split_the_tag_at_the_last_colon_not_followed_by_a_slash(string text, string directory, string tag)
    {
        var source = Assert.IsType<OciLayoutSource>(ImageSource.Parse(text));
        Assert.Equal(directory, source.Directory);
        Assert.Equal(tag, source.Tag);
        Assert.Equal($"oci-layout:{directory}:{tag}", source.ToString());
    }

    [Theory]
    [InlineData("oci:debian")]
    [InlineData("debian@sha256:8369762ae90ec0b2252931df46d51aa11a4c0727669c41c7157e6da8a88430f3")]
    [InlineData("dir:/srv/root")]
    [InlineData("file:/x.img")]
    [InlineData("ocifile:/x.tar")]
    [InlineData("oci-layout:/srv/layout")]
    [InlineData("oci-layout:/srv/a:b:latest")]
    [InlineData("oci-layout:/srv/a:b/c")]
    public void ToString_parses_back_to_an_equal_value(string text)
    {
        var source = ImageSource.Parse(text);
        var again = ImageSource.Parse(source.ToString());
        Assert.Equal(source, again);
        Assert.StartsWith(source.Prefix, source.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "the source is empty")]
    [InlineData("   ", "the source is empty")]
    [InlineData("dir:", "the directory path is empty")]
    [InlineData("file:", "the file path is empty")]
    [InlineData("ocifile:", "the archive path is empty")]
    [InlineData("oci-layout:", "the layout directory path is empty")]
    [InlineData("oci-layout::v1", "the layout directory path is empty")]
    [InlineData("oci-layout:/srv/x:", "'' after the last ':' is not a valid tag")]
    [InlineData("oci-layout:/srv/x:bad!tag", "'bad!tag' after the last ':' is not a valid tag")]
    [InlineData("dir:/a\0b", "NUL")]
    [InlineData("oci:", "'' is not a registry reference")]
    [InlineData("oci:Debian", "must be lowercase")]
    [InlineData("s3://bucket/image", "'s3:' is not a known source prefix")]
    [InlineData("https://example.com/image", "'https:' is not a known source prefix")]
    [InlineData("Debian", "not a registry reference: repository 'library/Debian' must be lowercase")]
    public void Rejects_bad_sources_naming_the_accepted_forms(string text, string expected)
    {
        Assert.False(ImageSource.TryParse(text, out var source, out var error));
        Assert.Null(source);
        Assert.Contains(expected, error, StringComparison.Ordinal);

        var ex = Assert.Throws<InvalidSourceException>(() => ImageSource.Parse(text));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal("invalid-source", ex.Kind);
        foreach (var prefix in new[] { "oci:REF", "dir:PATH", "file:PATH", "ocifile:TAR", "oci-layout:DIR[:TAG]" })
        {
            Assert.Contains(prefix, ex.Hint, StringComparison.Ordinal);
        }
    }
}
