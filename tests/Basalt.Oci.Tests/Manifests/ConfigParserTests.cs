using System.Text;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;

namespace Basalt.Oci.Tests.Manifests;

public sealed class ConfigParserTests
{
    private const string D1 = ManifestParserTests.D1;
    private const string D2 = ManifestParserTests.D2;

    private static readonly string Config =
        $$"""
        { "created": "2026-01-02T03:04:05Z", "architecture": "arm64", "variant": "v8", "os": "linux",
          "config": { "Env": ["PATH=/usr/bin"], "Labels": { "org.example": "yes" } },
          "rootfs": { "type": "layers", "diff_ids": ["{{D1}}", "{{D2}}"] },
          "history": [ { "created_by": "basalt push" } ] }
        """;

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static ImageManifest ManifestWithLayers(int count) => new()
    {
        Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Parse(D1), Size = 1 },
        Layers = Enumerable.Range(0, count)
            .Select(_ => new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Parse(D2), Size = 1 })
            .ToList(),
    };

    private static void Rejects(string json, string expected)
    {
        var ex = Assert.Throws<InvalidImageConfigException>(() => ConfigParser.Parse(Bytes(json)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal("invalid-image-config", ex.Kind);
    }

    [Fact]
    public void Valid_config_is_read()
    {
        var config = ConfigParser.Parse(Bytes(Config));
        Assert.Equal("linux", config.OS);
        Assert.Equal("arm64", config.Architecture);
        Assert.Equal("v8", config.Variant);
        Assert.Equal([D1, D2], config.RootFs.DiffIds.Select(d => d.Value));
        Assert.Equal("yes", config.Config!.Labels!["org.example"]);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), config.Created);
    }

    [Fact]
    public void Config_is_checked_against_its_descriptor()
    {
        var content = Bytes(Config);
        var good = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Sha256(content), Size = content.Length };
        Assert.Equal("linux", ConfigParser.Parse(content, good).OS);

        var wrongSize = good with { Size = content.Length + 1 };
        var sizeError = Assert.Throws<InvalidImageConfigException>(() => ConfigParser.Parse(content, wrongSize));
        Assert.Contains($"says the config is {content.Length + 1} bytes but it is {content.Length}", sizeError.Message, StringComparison.Ordinal);

        var wrongDigest = good with { Digest = Digest.Parse(D1) };
        var digestError = Assert.Throws<DigestMismatchException>(() => ConfigParser.Parse(content, wrongDigest));
        Assert.Equal(Digest.Sha256(content), digestError.Actual);
    }

    [Fact]
    public void Oversized_config_is_rejected_and_the_limit_itself_is_accepted()
    {
        var padded = Config + new string(' ', ConfigParser.MaxConfigBytes - Bytes(Config).Length);
        Assert.Equal("linux", ConfigParser.Parse(Bytes(padded)).OS);
        Rejects(padded + " ", "larger than the 8 MiB limit");
    }

    [Theory]
    [InlineData("", "the document is empty")]
    [InlineData("{", "invalid image config")]
    [InlineData("null", "JSON null")]
    [InlineData("""{ "os": "linux", "architecture": "amd64", "architecture": "arm64", "rootfs": { "type": "layers", "diff_ids": [] } }""", "Duplicate")]
    [InlineData("""{ "architecture": "amd64", "rootfs": { "type": "layers", "diff_ids": [] } }""", "os")]
    [InlineData("""{ "os": "", "architecture": "amd64", "rootfs": { "type": "layers", "diff_ids": [] } }""", "'os' is empty")]
    [InlineData("""{ "os": "linux", "architecture": " ", "rootfs": { "type": "layers", "diff_ids": [] } }""", "'architecture' is empty")]
    [InlineData("""{ "os": "linux", "rootfs": { "type": "layers", "diff_ids": [] } }""", "architecture")]
    [InlineData("""{ "os": "linux", "architecture": "amd64" }""", "rootfs")]
    [InlineData("""{ "os": "linux", "architecture": "amd64", "rootfs": null }""", "'rootfs' is null")]
    [InlineData("""{ "os": "linux", "architecture": "amd64", "rootfs": { "type": "tree", "diff_ids": [] } }""", "rootfs.type is 'tree'")]
    [InlineData("""{ "os": "linux", "architecture": "amd64", "rootfs": { "type": "layers", "diff_ids": null } }""", "diff_ids is null")]
    [InlineData("""{ "os": "linux", "architecture": "amd64", "rootfs": { "type": "layers", "diff_ids": ["sha256:12"] } }""", "invalid digest 'sha256:12'")]
    public void Malformed_configs_are_rejected(string json, string expected) => Rejects(json, expected);

    [Fact]
    public void EnsureMatches_accepts_one_diff_id_per_layer()
    {
        var config = ConfigParser.Parse(Bytes(Config));
        config.EnsureMatches(ManifestWithLayers(2));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(0)]
    public void EnsureMatches_rejects_a_different_layer_count(int layers)
    {
        var config = ConfigParser.Parse(Bytes(Config));
        var ex = Assert.Throws<InvalidImageConfigException>(() => config.EnsureMatches(ManifestWithLayers(layers)));
        Assert.Contains($"lists 2 diff_ids but the manifest has {layers} layers", ex.Message, StringComparison.Ordinal);
    }
}
