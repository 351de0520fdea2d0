using System.Text;
using Basalt.Oci.Layout;
using Basalt.Oci.Model;
using Basalt.Testing;
using static Basalt.Oci.Tests.Layout.LayoutFixtures;

namespace Basalt.Oci.Tests.Layout;

public sealed class OciLayoutDirectoryTests
{
    [Fact]
    public async Task A_written_layout_reads_back_by_tag()
    {
        using var temp = new TempDirectory("layout");
        var path = temp.Combine("layout");
        Descriptor first;
        Descriptor second;
        using (var layout = OciLayoutDirectory.OpenOrCreate(path))
        {
            first = await WriteImageAsync(layout, "v1", "one");
            second = await WriteImageAsync(layout, "v2", "two");
        }

        Assert.Equal("{\"imageLayoutVersion\":\"1.0.0\"}", System.IO.File.ReadAllText(Path.Combine(path, "oci-layout")));
        Assert.Contains("\"application/vnd.oci.image.manifest.v1+json\"", System.IO.File.ReadAllText(Path.Combine(path, "index.json")), StringComparison.Ordinal);
        Assert.True(System.IO.File.Exists(Path.Combine(path, "blobs", "sha256", first.Digest.Hex)));

        using var reopened = OciLayoutDirectory.Open(path);
        Assert.Equal(first.Digest, reopened.Resolve("v1").Descriptor.Digest);
        Assert.Equal(second.Digest, reopened.Resolve("v2").Descriptor.Digest);
        Assert.Equal(["v1", "v2"], reopened.Manifests.Select(m => m.Tag));
        var manifestBytes = ReadAll(reopened.OpenBlob(first.Digest));
        Assert.Equal(first.Digest, Digest.Sha256(manifestBytes));
    }

    [Fact]
    public async Task Retagging_moves_the_tag_and_keeps_one_entry_per_tag()
    {
        using var temp = new TempDirectory("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(temp.Combine("l"));
        await WriteImageAsync(layout, "latest", "one");
        var newer = await WriteImageAsync(layout, "latest", "two");

        var only = Assert.Single(layout.Manifests);
        Assert.Equal(newer.Digest, only.Descriptor.Digest);
        Assert.Equal(newer.Digest, layout.Resolve(null).Descriptor.Digest);
        Assert.Equal(newer.Digest, OciLayoutDirectory.Open(temp.Combine("l")).Resolve("latest").Descriptor.Digest);
    }

    [Fact]
    public async Task Unknown_tag_lists_the_tags_present()
    {
        using var temp = new TempDirectory("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(temp.Path);
        await WriteImageAsync(layout, "v1", "one");
        await WriteImageAsync(layout, "v2", "two");

        var error = Assert.Throws<LayoutTagNotFoundException>(() => layout.Resolve("v3"));
        Assert.Equal("tags present: v1, v2", error.Hint);
        Assert.Equal("tag-not-found", error.Kind);
        Assert.Throws<LayoutTagNotFoundException>(() => layout.Resolve(null));
    }

    [Fact]
    public async Task A_blob_that_does_not_match_its_digest_is_not_kept()
    {
        using var temp = new TempDirectory("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(temp.Path);
        var content = Encoding.UTF8.GetBytes("actual content");
        var lie = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = Digest.Sha256("other content"u8), Size = content.Length };

        await Assert.ThrowsAsync<DigestMismatchException>(() => layout.WriteBlobAsync(lie, new MemoryStream(content)));
        await Assert.ThrowsAsync<LayoutBlobSizeException>(() => layout.WriteBlobAsync(lie with { Size = 3 }, new MemoryStream(content)));
        await Assert.ThrowsAsync<LayoutBlobSizeException>(() => layout.WriteBlobAsync(lie with { Size = 300 }, new MemoryStream(content)));

        Assert.Empty(Directory.EnumerateFiles(temp.Combine("blobs", "sha256")));
        Assert.False(layout.ContainsBlob(lie.Digest));
    }

    [Fact]
    public async Task Writing_a_blob_already_present_transfers_nothing()
    {
        using var temp = new TempDirectory("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(temp.Path);
        var content = "same"u8.ToArray();
        var descriptor = new Descriptor { MediaType = MediaTypes.OciLayer, Digest = Digest.Sha256(content), Size = content.Length };

        Assert.Equal(4, await layout.WriteBlobAsync(descriptor, new MemoryStream(content)));
        Assert.Equal(0, await layout.WriteBlobAsync(descriptor, new MemoryStream(content)));
    }

    [Fact]
    public void Listing_a_manifest_whose_blob_is_absent_is_refused()
    {
        using var temp = new TempDirectory("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(temp.Path);
        var ghost = new Descriptor { MediaType = MediaTypes.OciManifest, Digest = Digest.Sha256("x"u8), Size = 1 };

        Assert.Throws<LayoutBlobMissingException>(() => layout.SetManifest(ghost, "t"));
        Assert.Empty(OciLayoutDirectory.Open(temp.Path).Manifests);
    }

    [Fact]
    public void Missing_index_json_is_a_typed_error()
    {
        using var temp = new TempDirectory("layout");
        System.IO.File.WriteAllText(temp.Combine("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");

        var error = Assert.Throws<MalformedLayoutException>(() => OciLayoutDirectory.Open(temp.Path));
        Assert.Contains("index.json is missing", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"imageLayoutVersion\":\"1.0.0\"}", "not json", "index.json is not valid")]
    [InlineData("{\"imageLayoutVersion\":\"1.0.0\"}", "{\"schemaVersion\":2}", "index.json is not valid")]
    [InlineData("{\"imageLayoutVersion\":\"1.0.0\"}", "{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion 1")]
    [InlineData("{\"imageLayoutVersion\":\"1.0.0\"}", "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"md5:00\",\"size\":1}]}", "index.json is not valid")]
    [InlineData("{\"imageLayoutVersion\":\"2.0.0\"}", "{\"schemaVersion\":2,\"manifests\":[]}", "unsupported imageLayoutVersion")]
    [InlineData("[]", "{\"schemaVersion\":2,\"manifests\":[]}", "oci-layout is not valid")]
    public void Malformed_layouts_are_typed_errors(string marker, string index, string expected)
    {
        using var temp = new TempDirectory("layout");
        System.IO.File.WriteAllText(temp.Combine("oci-layout"), marker);
        System.IO.File.WriteAllText(temp.Combine("index.json"), index);

        var error = Assert.Throws<MalformedLayoutException>(() => OciLayoutDirectory.Open(temp.Path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_index_json_is_refused_without_reading_it_all()
    {
        using var temp = new TempDirectory("layout");
        System.IO.File.WriteAllText(temp.Combine("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        System.IO.File.WriteAllText(temp.Combine("index.json"), new string(' ', 5 << 20));

        var error = Assert.Throws<MalformedLayoutException>(() => OciLayoutDirectory.Open(temp.Path));
        Assert.Contains("larger than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_a_layout_and_missing_directory_are_typed_errors()
    {
        using var temp = new TempDirectory("layout");
        System.IO.File.WriteAllText(temp.Combine("something"), "x");

        Assert.Throws<MalformedLayoutException>(() => OciLayoutDirectory.Open(temp.Path));
        Assert.Throws<MalformedLayoutException>(() => OciLayoutDirectory.Open(temp.Combine("absent")));
        Assert.Throws<MalformedLayoutException>(() => OciLayoutDirectory.OpenOrCreate(temp.Path));
    }

    [Fact]
    public void Opening_a_missing_blob_is_a_typed_error()
    {
        using var temp = new TempDirectory("layout");
        using var layout = OciLayoutDirectory.OpenOrCreate(temp.Path);

        Assert.Throws<LayoutBlobMissingException>(() => layout.OpenBlob(Digest.Sha256("nothing"u8)));
    }
}
