using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Basalt.Oci.Layout;
using Basalt.Oci.Model;
using Basalt.Testing;
using static Basalt.Oci.Tests.Layout.LayoutFixtures;

namespace Basalt.Oci.Tests.Layout;

public sealed class ImageArchiveTests
{
    [Fact]
    public async Task An_oci_layout_tar_reads_like_the_directory_it_was_made_from()
    {
        using var temp = new TempDirectory("archive");
        Descriptor manifest;
        using (var layout = OciLayoutDirectory.OpenOrCreate(temp.Combine("layout")))
        {
            manifest = await WriteImageAsync(layout, "v1", "hello");
        }

        var tarPath = temp.Combine("image.tar");
        await TarFile.CreateFromDirectoryAsync(temp.Combine("layout"), tarPath, includeBaseDirectory: false);

        using var archive = ImageArchive.Open(tarPath);
        Assert.IsType<OciLayoutArchive>(archive);
        var resolved = archive.Resolve("v1");
        Assert.Equal(manifest.Digest, resolved.Descriptor.Digest);
        var parsed = JsonSerializer.Deserialize(ReadAll(archive.OpenBlob(manifest.Digest)), OciJsonContext.Default.ImageManifest)!;
        var layer = ReadAll(archive.OpenBlob(parsed.Layers[0].Digest));
        Assert.Equal(parsed.Layers[0].Digest, Digest.Sha256(layer));
        Assert.Equal(parsed.Layers[0].Size, layer.Length);
        Assert.Throws<LayoutTagNotFoundException>(() => archive.Resolve("v9"));
    }

    [Fact]
    public void A_docker_archive_becomes_an_oci_manifest_with_computed_digests()
    {
        using var temp = new TempDirectory("archive");
        var layerOne = LayerTar(("etc/os-release", "ID=test"));
        var layerTwo = LayerTar(("usr/bin/tool", "#!/bin/sh"));
        var config = ConfigJson(Digest.Sha256(layerOne), Digest.Sha256(layerTwo));
        var manifestJson = """
            [{"Config":"abc.json","RepoTags":["example.org/os:1.0"],"Layers":["one/layer.tar","two/layer.tar","three/layer.tar"]}]
            """;
        var path = temp.Combine("docker.tar");
        WriteTar(
            path,
            File("manifest.json", manifestJson),
            File("abc.json", config),
            File("one/layer.tar", layerOne),
            File("two/layer.tar", layerTwo),
            Link("three/layer.tar", "../one/layer.tar"));

        using var archive = ImageArchive.Open(path);

        Assert.IsType<DockerArchive>(archive);
        var resolved = archive.Resolve("1.0");
        Assert.Equal("example.org/os:1.0", resolved.Tag);
        Assert.Equal(resolved, archive.Resolve("example.org/os:1.0"));
        Assert.Equal(resolved, archive.Resolve(null));
        var manifestBytes = ReadAll(archive.OpenBlob(resolved.Descriptor.Digest));
        Assert.Equal(resolved.Descriptor.Digest, Digest.Sha256(manifestBytes));
        var manifest = JsonSerializer.Deserialize(manifestBytes, OciJsonContext.Default.ImageManifest)!;
        Assert.Equal(Digest.Sha256(config), manifest.Config.Digest);
        Assert.Equal(config, ReadAll(archive.OpenBlob(manifest.Config.Digest)));
        Assert.Equal([Digest.Sha256(layerOne), Digest.Sha256(layerTwo), Digest.Sha256(layerOne)], manifest.Layers.Select(l => l.Digest));
        Assert.All(manifest.Layers, l => Assert.Equal(MediaTypes.OciLayer, l.MediaType));
        Assert.Equal(layerTwo.Length, manifest.Layers[1].Size);
        Assert.Equal(layerTwo, ReadAll(archive.OpenBlob(manifest.Layers[1].Digest)));
    }

    [Fact]
    public void Docker_archive_layers_stored_as_blobs_keep_their_names_and_compression_is_detected()
    {
        using var temp = new TempDirectory("archive");
        var tar = LayerTar(("a", "b"));
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tar);
        }

        var layer = gzipped.ToArray();
        var digest = Digest.Sha256(layer);
        var config = ConfigJson(Digest.Sha256(tar));
        var path = temp.Combine("docker.tar");
        WriteTar(
            path,
            File("manifest.json", $$"""[{"Config":"blobs/sha256/{{Digest.Sha256(config).Hex}}","RepoTags":null,"Layers":["blobs/sha256/{{digest.Hex}}"]}]"""),
            File($"blobs/sha256/{Digest.Sha256(config).Hex}", config),
            File($"blobs/sha256/{digest.Hex}", layer));

        using var archive = ImageArchive.Open(path);
        var manifest = JsonSerializer.Deserialize(ReadAll(archive.OpenBlob(archive.Resolve(null).Descriptor.Digest)), OciJsonContext.Default.ImageManifest)!;

        var only = Assert.Single(manifest.Layers);
        Assert.Equal(digest, only.Digest);
        Assert.Equal(MediaTypes.OciLayerGzip, only.MediaType);
    }

    [Theory]
    [InlineData("not json", "manifest.json is not valid")]
    [InlineData("[]", "lists no images")]
    [InlineData("{\"Config\":\"c.json\"}", "manifest.json is not valid")]
    [InlineData("[{\"Config\":\"c.json\"}]", "no Config or no Layers")]
    public void Bad_manifest_json_is_a_typed_error(string manifestJson, string expected)
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("docker.tar");
        WriteTar(path, File("manifest.json", manifestJson), File("c.json", "{}"));

        var error = Assert.Throws<MalformedLayoutException>(() => ImageArchive.Open(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_layer_missing_from_the_tar_is_a_typed_error()
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("docker.tar");
        WriteTar(path, File("manifest.json", """[{"Config":"c.json","Layers":["gone/layer.tar"]}]"""), File("c.json", ConfigJson()));

        var error = Assert.Throws<LayoutBlobMissingException>(() => ImageArchive.Open(path));
        Assert.Contains("gone/layer.tar", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_blob_missing_from_an_oci_layout_tar_is_a_typed_error_when_read()
    {
        using var temp = new TempDirectory("archive");
        var ghost = Digest.Sha256("ghost"u8);
        var path = temp.Combine("layout.tar");
        WriteTar(
            path,
            File("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"),
            File("index.json", $$"""{"schemaVersion":2,"manifests":[{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{ghost}}","size":5}]}"""));

        using var archive = ImageArchive.Open(path);
        Assert.False(archive.ContainsBlob(ghost));
        Assert.Throws<LayoutBlobMissingException>(() => archive.OpenBlob(ghost));
    }

    [Fact]
    public void An_oci_layout_tar_without_index_json_is_a_typed_error()
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("layout.tar");
        WriteTar(path, File("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));

        var error = Assert.Throws<MalformedLayoutException>(() => ImageArchive.Open(path));
        Assert.Contains("index.json is missing", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../evil", "climbs out")]
    [InlineData("a/../../evil", "climbs out")]
    [InlineData("/etc/passwd", "absolute")]
    public void Traversal_names_in_the_tar_are_rejected(string name, string expected)
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("evil.tar");
        WriteTar(path, File("manifest.json", "[]"), File(name, "x"));

        var error = Assert.Throws<UnsafeArchiveEntryException>(() => ImageArchive.Open(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal("unsafe-archive-entry", error.Kind);
    }

    [Theory]
    [InlineData("../../etc/shadow")]
    [InlineData("/etc/shadow")]
    public void Symlinks_pointing_out_of_the_tar_are_rejected(string target)
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("evil.tar");
        WriteTar(path, File("manifest.json", "[]"), Link("x/layer.tar", target));

        Assert.Throws<UnsafeArchiveEntryException>(() => ImageArchive.Open(path));
    }

    [Fact]
    public void Duplicate_names_are_rejected()
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("dup.tar");
        WriteTar(path, File("manifest.json", "[]"), File("./manifest.json", "[]"));

        Assert.Throws<UnsafeArchiveEntryException>(() => ImageArchive.Open(path));
    }

    [Fact]
    public void Truncated_and_garbage_files_are_typed_errors()
    {
        using var temp = new TempDirectory("archive");
        var good = temp.Combine("good.tar");
        WriteTar(good, File("manifest.json", "[]"), File("big", new byte[100_000]));
        var bytes = System.IO.File.ReadAllBytes(good);
        System.IO.File.WriteAllBytes(temp.Combine("truncated.tar"), bytes[..50_000]);
        System.IO.File.WriteAllBytes(temp.Combine("garbage.tar"), Encoding.UTF8.GetBytes(new string('z', 2048)));

        Assert.Throws<MalformedLayoutException>(() => ImageArchive.Open(temp.Combine("truncated.tar")));
        Assert.Throws<MalformedLayoutException>(() => ImageArchive.Open(temp.Combine("garbage.tar")));
        Assert.Throws<MalformedLayoutException>(() => ImageArchive.Open(temp.Combine("absent.tar")));
    }

    [Fact]
    public void A_tar_that_is_neither_kind_says_so()
    {
        using var temp = new TempDirectory("archive");
        var path = temp.Combine("plain.tar");
        WriteTar(path, File("etc/hostname", "x"));

        var error = Assert.Throws<MalformedLayoutException>(() => ImageArchive.Open(path));
        Assert.Contains("neither an OCI layout tar", error.Message, StringComparison.Ordinal);
    }
}
