using System.Text;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;

namespace Basalt.Oci.Tests.Manifests;

public sealed class ManifestParserTests
{
    internal const string D1 = "sha256:8369762ae90ec0b2252931df46d51aa11a4c0727669c41c7157e6da8a88430f3";
    internal const string D2 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private const string Layers =
        $$"""
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{{D1}}", "size": 7 },
        "layers": [
          { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{{D2}}", "size": 32 },
          { "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": "{{D1}}", "size": 0 }
        ]
        """;

    private static readonly string OciManifest =
        $$"""{ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", {{Layers}} }""";

    private static readonly string BareManifest = $$"""{ "schemaVersion": 2, {{Layers}} }""";

    private static readonly string DockerManifest =
        $$"""
        { "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
          "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "digest": "{{D1}}", "size": 7 },
          "layers": [ { "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "{{D2}}", "size": 32 } ] }
        """;

    private static readonly string BareIndex =
        $$"""
        { "schemaVersion": 2, "manifests": [
          { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{D1}}", "size": 500,
            "platform": { "os": "linux", "architecture": "amd64" } } ] }
        """;

    private static readonly string DockerList =
        $$"""
        { "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": [
          { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "{{D1}}", "size": 500,
            "platform": { "os": "linux", "architecture": "arm64", "variant": "v8" } } ] }
        """;

    private static readonly string Schema1 =
        """
        { "schemaVersion": 1, "name": "library/debian", "tag": "latest", "architecture": "amd64",
          "fsLayers": [ { "blobSum": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" } ],
          "history": [ { "v1Compatibility": "{}" } ] }
        """;

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static InvalidManifestException Rejects(string json, string? declared, string expected)
    {
        var ex = Assert.Throws<InvalidManifestException>(() => ManifestParser.Parse(Bytes(json), declared));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal("invalid-manifest", ex.Kind);
        return ex;
    }

    [Fact]
    public void Oci_manifest_with_declared_type_is_read_with_its_descriptors()
    {
        var content = Bytes(OciManifest);
        var document = Assert.IsType<ImageManifestDocument>(ManifestParser.Parse(content, MediaTypes.OciManifest));

        Assert.Equal(MediaTypes.OciManifest, document.MediaType);
        Assert.False(document.IsIndex);
        Assert.Equal(Digest.Sha256(content), document.Digest);
        Assert.Equal(content.Length, document.Size);
        Assert.Equal(D1, document.Manifest.Config.Digest.Value);
        Assert.Equal(7, document.Manifest.Config.Size);
        Assert.Equal([D2, D1], document.Manifest.Layers.Select(l => l.Digest.Value));
        Assert.Equal(MediaTypes.OciLayerZstd, document.Manifest.Layers[1].MediaType);

        var descriptor = document.ToDescriptor();
        Assert.Equal((MediaTypes.OciManifest, Digest.Sha256(content), (long)content.Length), (descriptor.MediaType, descriptor.Digest, descriptor.Size));
    }

    [Fact]
    public void Docker_schema2_manifest_takes_its_embedded_media_type_when_none_is_declared()
    {
        var document = Assert.IsType<ImageManifestDocument>(ManifestParser.Parse(Bytes(DockerManifest), null));
        Assert.Equal(MediaTypes.DockerManifest, document.MediaType);
        Assert.Single(document.Manifest.Layers);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/octet-stream")]
    [InlineData("")]
    public void Generic_declared_types_count_as_not_declared(string declared)
    {
        var document = ManifestParser.Parse(Bytes(DockerManifest), declared);
        Assert.Equal(MediaTypes.DockerManifest, document.MediaType);
    }

    [Fact]
    public void Declared_type_with_parameters_and_case_is_normalised()
    {
        var document = ManifestParser.Parse(Bytes(DockerList), "Application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8");
        var index = Assert.IsType<ImageIndexDocument>(document);
        Assert.Equal(MediaTypes.DockerManifestList, index.MediaType);
        Assert.True(index.IsIndex);
        Assert.Equal("v8", index.Index.Manifests[0].Platform!.Variant);
    }

    [Fact]
    public void Without_any_media_type_the_shape_decides()
    {
        Assert.Equal(MediaTypes.OciIndex, Assert.IsType<ImageIndexDocument>(ManifestParser.Parse(Bytes(BareIndex), null)).MediaType);
        Assert.Equal(MediaTypes.OciManifest, Assert.IsType<ImageManifestDocument>(ManifestParser.Parse(Bytes(BareManifest), null)).MediaType);
    }

    [Fact]
    public void Declared_type_is_used_when_the_document_has_none()
    {
        var document = ManifestParser.Parse(Bytes(BareManifest), MediaTypes.DockerManifest);
        Assert.Equal(MediaTypes.DockerManifest, document.MediaType);
    }

    [Fact]
    public void A_document_of_exactly_the_limit_is_accepted_and_one_byte_more_is_rejected()
    {
        var padded = OciManifest + new string(' ', ManifestParser.MaxManifestBytes - Bytes(OciManifest).Length);
        Assert.Equal(4 * 1024 * 1024, Bytes(padded).Length);
        Assert.IsType<ImageManifestDocument>(ManifestParser.Parse(Bytes(padded), null));

        Rejects(padded + " ", null, "larger than the 4 MiB limit");
    }

    [Fact]
    public void Schema1_by_declared_type_is_rejected_with_advice_to_repush()
    {
        var ex = Rejects(OciManifest, MediaTypes.DockerManifestSchema1Signed, "Docker schema 1");
        Assert.Contains("re-push", ex.Hint, StringComparison.Ordinal);
        Rejects(OciManifest, MediaTypes.DockerManifestSchema1, "Docker schema 1");
    }

    [Fact]
    public void Schema1_by_content_is_rejected_with_advice_to_repush()
    {
        var ex = Rejects(Schema1, null, "Docker schema 1");
        Assert.Contains("modern client", ex.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "the document is empty")]
    [InlineData("{", "not valid JSON")]
    [InlineData("{\"schemaVersion\": 2,}", "not valid JSON")]
    [InlineData("{\"schemaVersion\": 2} {}", "not valid JSON")]
    [InlineData("{\"schemaVersion\": 2, \"manifests\": [], \"manifests\": []}", "not valid JSON: Duplicate")]
    [InlineData("[]", "JSON array, not an object")]
    [InlineData("null", "JSON null, not an object")]
    [InlineData("{\"schemaVersion\": 3, \"manifests\": []}", "schemaVersion is 3; only 2 is supported")]
    [InlineData("{\"schemaVersion\": \"2\", \"manifests\": []}", "schemaVersion is \"2\"")]
    [InlineData("{\"manifests\": []}", "schemaVersion is missing")]
    [InlineData("{\"schemaVersion\": 2, \"mediaType\": 5, \"manifests\": []}", "mediaType field is a JSON number")]
    [InlineData("{\"schemaVersion\": 2}", "neither 'manifests'")]
    [InlineData("{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.example+json\"}", "'application/vnd.example+json' is not an image manifest or index")]
    [InlineData("{\"schemaVersion\": 2, \"manifests\": {}}", "'manifests' is a JSON object, not an array")]
    [InlineData("{\"schemaVersion\": 2, \"manifests\": [null]}", "manifests[0] is null")]
    [InlineData("{\"schemaVersion\": 2, \"layers\": []}", "'config' is missing")]
    [InlineData("{\"schemaVersion\": 2, \"config\": \"x\", \"layers\": []}", "'config' is a JSON string")]
    public void Malformed_documents_are_rejected(string json, string expected) => Rejects(json, null, expected);

    [Fact]
    public void Manifest_without_layers_is_rejected()
    {
        var json = $$"""{ "schemaVersion": 2, "config": { "mediaType": "{{MediaTypes.OciConfig}}", "digest": "{{D1}}", "size": 7 } }""";
        Rejects(json, MediaTypes.OciManifest, "'layers' is missing, and an OCI image manifest must have it");
        var withNullLayers = json.Replace(" } }", " }, \"layers\": null }", StringComparison.Ordinal);
        Assert.Contains("\"layers\": null", withNullLayers, StringComparison.Ordinal);
        Rejects(withNullLayers, MediaTypes.OciManifest, "'layers' is missing");
    }

    [Fact]
    public void Manifest_with_null_layer_entry_is_rejected()
    {
        var json = $$"""{ "schemaVersion": 2, "config": { "mediaType": "{{MediaTypes.OciConfig}}", "digest": "{{D1}}", "size": 7 }, "layers": [null] }""";
        Rejects(json, null, "layers[0] is null");
    }

    [Fact]
    public void Index_declared_but_without_manifests_is_rejected()
    {
        Rejects(BareManifest, MediaTypes.OciIndex, "'manifests' is missing, and an OCI image index must have it");
        Rejects("{\"schemaVersion\": 2}", MediaTypes.DockerManifestList, "'manifests' is missing, and a Docker manifest list must have it");
    }

    [Fact]
    public void Declared_and_embedded_media_types_must_agree()
    {
        Rejects(DockerManifest, MediaTypes.OciManifest,
            $"declared as '{MediaTypes.OciManifest}' but its mediaType field says '{MediaTypes.DockerManifest}'");
        Rejects(DockerList, MediaTypes.OciIndex, "declared as");
    }

    [Fact]
    public void Declared_type_that_is_no_manifest_is_rejected()
    {
        Rejects(OciManifest, "application/vnd.oci.artifact.manifest.v1+json", "is not an image manifest or index");
    }

    [Fact]
    public void Bad_digest_in_a_descriptor_is_rejected()
    {
        var json = OciManifest.Replace(D2, "sha256:1234", StringComparison.Ordinal);
        var ex = Rejects(json, null, "invalid digest 'sha256:1234'");
        Assert.Contains("layers", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_digest_algorithm_is_rejected()
    {
        Rejects(OciManifest.Replace(D2, "md5:" + D2[7..], StringComparison.Ordinal), null, "unsupported digest algorithm 'md5'");
    }

    [Fact]
    public void Negative_size_is_rejected()
    {
        Rejects(OciManifest.Replace("\"size\": 32", "\"size\": -1", StringComparison.Ordinal), null, "layers[0] has a negative size (-1)");
        Rejects(OciManifest.Replace("\"size\": 7", "\"size\": -7", StringComparison.Ordinal), null, "config has a negative size (-7)");
    }

    [Fact]
    public void Descriptor_without_digest_or_media_type_is_rejected()
    {
        Rejects(OciManifest.Replace($"\"digest\": \"{D2}\",", string.Empty, StringComparison.Ordinal), null, "digest");
        Rejects(OciManifest.Replace("\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",", string.Empty, StringComparison.Ordinal), null, "mediaType");
        Rejects(OciManifest.Replace("\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\"", "\"mediaType\": \"\"", StringComparison.Ordinal), null, "layers[0] has no mediaType");
    }

    [Fact]
    public void Index_platform_without_architecture_is_rejected()
    {
        Rejects(BareIndex.Replace("\"architecture\": \"amd64\"", "\"architecture\": \"\"", StringComparison.Ordinal), null, "manifests[0] has a platform without os or architecture");
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("  ", null)]
    [InlineData("application/json; charset=utf-8", null)]
    [InlineData("Application/VND.OCI.Image.Index.v1+json ; q=1", MediaTypes.OciIndex)]
    public void NormaliseMediaType_drops_parameters_and_generic_types(string? input, string? expected) =>
        Assert.Equal(expected, ManifestParser.NormaliseMediaType(input));
}
