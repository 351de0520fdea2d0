using System.Runtime.InteropServices;
using System.Text;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;

namespace Basalt.Oci.Tests.Manifests;

public sealed class PlatformSpecTests
{
    [Theory]
    [InlineData("linux/amd64", "linux/amd64")]
    [InlineData("Linux/AMD64", "linux/amd64")]
    [InlineData("linux/x86_64", "linux/amd64")]
    [InlineData("linux/x86-64", "linux/amd64")]
    [InlineData("linux/amd64/v1", "linux/amd64")]
    [InlineData("linux/amd64/v3", "linux/amd64/v3")]
    [InlineData("linux/arm64", "linux/arm64/v8")]
    [InlineData("linux/arm64/v8", "linux/arm64/v8")]
    [InlineData("linux/arm64/8", "linux/arm64/v8")]
    [InlineData("linux/aarch64", "linux/arm64/v8")]
    [InlineData("linux/arm64/v9", "linux/arm64/v9")]
    [InlineData("linux/arm", "linux/arm/v7")]
    [InlineData("linux/arm/7", "linux/arm/v7")]
    [InlineData("linux/arm/v7", "linux/arm/v7")]
    [InlineData("linux/arm/6", "linux/arm/v6")]
    [InlineData("linux/armhf", "linux/arm/v7")]
    [InlineData("linux/armel", "linux/arm/v6")]
    [InlineData("linux/i386", "linux/386")]
    [InlineData("linux/386", "linux/386")]
    [InlineData("linux/riscv64", "linux/riscv64")]
    [InlineData("linux/s390x", "linux/s390x")]
    public void Parses_and_normalises(string text, string expected)
    {
        var platform = PlatformSpec.Parse(text);
        Assert.Equal(expected, platform.ToString());
        Assert.Equal(PlatformSpec.Parse(expected), platform);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("linux", "expected 2 or 3 parts")]
    [InlineData("linux/arm64/v8/x", "expected 2 or 3 parts")]
    [InlineData("linux/", "the architecture is empty")]
    [InlineData("/amd64", "the os is empty")]
    [InlineData("linux/arm/", "the variant is empty")]
    [InlineData("linux/am d64", "'am d64' may contain only")]
    public void Rejects_bad_platforms(string text, string expected)
    {
        var ex = Assert.Throws<InvalidPlatformException>(() => PlatformSpec.Parse(text));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("linux/arm64/v8", ex.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Current_is_this_machine()
    {
        var expected = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "linux/amd64",
            Architecture.Arm64 => "linux/arm64/v8",
            var other => throw new InvalidOperationException($"add the expected platform for {other} to this test"),
        };
        Assert.Equal(expected, PlatformSpec.Current.ToString());
    }

    [Fact]
    public void From_normalises_index_and_config_platforms()
    {
        Assert.Equal("linux/arm64/v8", PlatformSpec.From(new OciPlatform { OS = "linux", Architecture = "aarch64" }).ToString());
        var config = new ImageConfig { OS = "Linux", Architecture = "x86_64", RootFs = new RootFs { DiffIds = [] } };
        Assert.Equal("linux/amd64", PlatformSpec.From(config).ToString());
        Assert.True(PlatformSpec.Parse("linux/arm/v7").Accepts(PlatformSpec.From(config with { Architecture = "armel" })));
        Assert.False(PlatformSpec.Parse("linux/arm/v6").Accepts(PlatformSpec.From(config with { Architecture = "armhf" })));
    }

    [Theory]
    [InlineData("linux/arm/v7", "linux/arm/v7", 0)]
    [InlineData("linux/arm/v7", "linux/arm/v6", 1)]
    [InlineData("linux/arm/v7", "linux/arm/v5", 2)]
    [InlineData("linux/arm/v6", "linux/arm/v7", null)]
    [InlineData("linux/amd64/v3", "linux/amd64/v2", 1)]
    [InlineData("linux/amd64/v3", "linux/amd64", 2)]
    [InlineData("linux/amd64", "linux/amd64/v2", null)]
    [InlineData("linux/arm64", "linux/arm64/v9", null)]
    [InlineData("linux/amd64", "linux/arm64", null)]
    [InlineData("linux/amd64", "windows/amd64", null)]
    public void MatchRank_prefers_exact_then_the_nearest_older_variant(string wanted, string candidate, int? rank) =>
        Assert.Equal(rank, PlatformSpec.Parse(wanted).MatchRank(PlatformSpec.Parse(candidate)));
}

public sealed class PlatformSelectorTests
{
    private static string Entry(string os, string arch, string? variant = null, string mediaType = MediaTypes.OciManifest, string? annotations = null)
    {
        var digest = Digest.Sha256(Encoding.UTF8.GetBytes($"{os}/{arch}/{variant}/{Guid.NewGuid()}"));
        var variantJson = variant is null ? string.Empty : $", \"variant\": \"{variant}\"";
        var annotationJson = annotations is null ? string.Empty : $", \"annotations\": {annotations}";
        return $$"""
            { "mediaType": "{{mediaType}}", "digest": "{{digest}}", "size": 100,
              "platform": { "os": "{{os}}", "architecture": "{{arch}}"{{variantJson}} }{{annotationJson}} }
            """;
    }

    private static ImageIndex Index(params string[] entries)
    {
        var json = $$"""{ "schemaVersion": 2, "mediaType": "{{MediaTypes.OciIndex}}", "manifests": [ {{string.Join(", ", entries)}} ] }""";
        return Assert.IsType<ImageIndexDocument>(ManifestParser.Parse(Encoding.UTF8.GetBytes(json), null)).Index;
    }

    private static string Attestation(string forDigest) =>
        Entry("unknown", "unknown", annotations: $$"""{ "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "{{forDigest}}" }""");

    private static readonly ImageIndex MultiArch = Index(
        Entry("linux", "amd64"),
        Entry("linux", "arm64", "v8"),
        Entry("linux", "arm", "v6"),
        Entry("linux", "arm", "v7"),
        Attestation(ManifestParserTests.D1),
        Attestation(ManifestParserTests.D2));

    [Theory]
    [InlineData("linux/amd64", 0)]
    [InlineData("linux/x86_64", 0)]
    [InlineData("linux/arm64", 1)]
    [InlineData("linux/arm64/v8", 1)]
    [InlineData("linux/aarch64", 1)]
    [InlineData("linux/arm/v6", 2)]
    [InlineData("linux/arm/v7", 3)]
    [InlineData("linux/armhf", 3)]
    public void Selects_the_exact_platform(string wanted, int expectedIndex)
    {
        var selected = PlatformSelector.Select(MultiArch, PlatformSpec.Parse(wanted));
        Assert.Same(MultiArch.Manifests[expectedIndex], selected);
    }

    [Fact]
    public void Arm64_without_variant_in_the_index_matches_v8()
    {
        var index = Index(Entry("linux", "amd64"), Entry("linux", "arm64"));
        Assert.Same(index.Manifests[1], PlatformSelector.Select(index, PlatformSpec.Parse("linux/arm64/v8")));
        Assert.Same(index.Manifests[1], PlatformSelector.Select(index, PlatformSpec.Parse("linux/arm64")));
    }

    [Fact]
    public void Exact_variant_wins_over_an_older_one_listed_first()
    {
        var index = Index(Entry("linux", "arm", "v5"), Entry("linux", "arm", "v6"), Entry("linux", "arm", "v7"));
        Assert.Same(index.Manifests[2], PlatformSelector.Select(index, PlatformSpec.Parse("linux/arm/v7")));
    }

    [Fact]
    public void An_older_arm_variant_is_used_when_no_exact_one_exists()
    {
        var index = Index(Entry("linux", "arm", "v5"), Entry("linux", "arm", "v6"), Entry("linux", "arm64"));
        Assert.Same(index.Manifests[1], PlatformSelector.Select(index, PlatformSpec.Parse("linux/arm/v7")));
    }

    [Fact]
    public void A_newer_variant_than_wanted_is_never_used()
    {
        var index = Index(Entry("linux", "arm", "v7"), Entry("linux", "amd64", "v3"));
        Assert.Throws<PlatformNotFoundException>(() => PlatformSelector.Select(index, PlatformSpec.Parse("linux/arm/v6")));
        Assert.Throws<PlatformNotFoundException>(() => PlatformSelector.Select(index, PlatformSpec.Parse("linux/amd64")));
    }

    [Fact]
    public void First_of_equal_entries_wins()
    {
        var index = Index(Entry("linux", "amd64"), Entry("linux", "x86_64"));
        Assert.Same(index.Manifests[0], PlatformSelector.Select(index, PlatformSpec.Parse("linux/amd64")));
    }

    [Fact]
    public void Attestations_are_skipped_even_when_they_name_a_real_platform()
    {
        var index = Index(
            Entry("linux", "amd64", annotations: """{ "vnd.docker.reference.type": "attestation-manifest" }"""),
            Entry("linux", "amd64"));
        Assert.Same(index.Manifests[1], PlatformSelector.Select(index, PlatformSpec.Parse("linux/amd64")));
        Assert.True(PlatformSelector.IsAttestation(index.Manifests[0]));
        Assert.False(PlatformSelector.IsAttestation(index.Manifests[1]));
    }

    [Fact]
    public void Unknown_platform_entries_are_never_selected()
    {
        var index = Index(Entry("unknown", "unknown"));
        Assert.True(PlatformSelector.IsAttestation(index.Manifests[0]));
        Assert.Throws<PlatformNotFoundException>(() => PlatformSelector.Select(index, PlatformSpec.Parse("unknown/unknown")));
    }

    [Fact]
    public void Nested_indexes_are_not_selected()
    {
        var index = Index(Entry("linux", "amd64", mediaType: MediaTypes.OciIndex), Entry("linux", "amd64", mediaType: MediaTypes.DockerManifest));
        Assert.Same(index.Manifests[1], PlatformSelector.Select(index, PlatformSpec.Parse("linux/amd64")));
    }

    [Fact]
    public void Missing_platform_lists_what_the_index_offers()
    {
        var ex = Assert.Throws<PlatformNotFoundException>(() => PlatformSelector.Select(MultiArch, PlatformSpec.Parse("linux/riscv64")));
        Assert.Equal(["linux/amd64", "linux/arm64/v8", "linux/arm/v6", "linux/arm/v7"], ex.Offered);
        Assert.Contains("no image for linux/riscv64", ex.Message, StringComparison.Ordinal);
        Assert.Contains("it offers linux/amd64, linux/arm64/v8, linux/arm/v6, linux/arm/v7", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--platform linux/amd64", ex.Hint, StringComparison.Ordinal);
        Assert.Equal("platform-not-found", ex.Kind);
        Assert.Equal(PlatformSpec.Parse("linux/riscv64"), ex.Wanted);
    }

    [Fact]
    public void An_index_of_only_attestations_says_it_offers_nothing()
    {
        var index = Index(Attestation(ManifestParserTests.D1));
        var ex = Assert.Throws<PlatformNotFoundException>(() => PlatformSelector.Select(index, PlatformSpec.Parse("linux/amd64")));
        Assert.Empty(ex.Offered);
        Assert.Contains("offers no platform-specific image", ex.Message, StringComparison.Ordinal);
    }
}
