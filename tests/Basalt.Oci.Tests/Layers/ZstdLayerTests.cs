using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>zstd layers made by the reference zstd CLI, and zstd layers Basalt writes read back by it.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class ZstdLayerTests
{
    private static async Task<string> ZstdCompress(TempDirectory temp, byte[] tar, params string[] extra)
    {
        Requires.Tool("zstd", "zstd");
        var plain = temp.Combine($"layer-{Guid.NewGuid():N}.tar");
        File.WriteAllBytes(plain, tar);
        await new ToolRunner().RunAsync(new ToolInvocation("zstd", ["-q", .. extra, plain, "-o", plain + ".zst"]) { Package = "zstd" });
        return plain + ".zst";
    }

    private static byte[] SampleTar() => new TarBuilder()
        .Directory("etc")
        .File("etc/os-release", "ID=basalt\n")
        .File("big", string.Concat(Enumerable.Range(0, 100_000).Select(i => (i % 97).ToString())))
        .Symlink("link", "etc/os-release")
        .ToArray();

    [Fact]
    public async Task Zstd_layer_from_the_cli_is_applied_and_its_diff_id_verified()
    {
        using var temp = new TempDirectory("zstd");
        var tar = SampleTar();
        var path = await ZstdCompress(temp, tar);
        var target = temp.Combine("rootfs");
        var result = await new LayerApplier().ApplyAsync(target, [new LayerBlob(path, MediaTypes.OciLayerZstd, Digest.Sha256(tar))], new LayerApplyOptions { Privileged = false });
        Assert.Equal("ID=basalt\n", File.ReadAllText(Path.Combine(target, "etc/os-release")));
        Assert.Equal(Digest.Sha256(tar), result.DiffIds[0]);
    }

    [Fact]
    public async Task Multi_frame_zstd_is_read_to_the_end()
    {
        using var temp = new TempDirectory("zstd-frames");
        var tar = SampleTar();
        var half = tar.Length / 2;
        var first = await ZstdCompress(temp, tar[..half]);
        var second = await ZstdCompress(temp, tar[half..]);
        var joined = temp.Combine("joined.zst");
        File.WriteAllBytes(joined, [.. File.ReadAllBytes(first), .. File.ReadAllBytes(second)]);
        var result = await new LayerApplier().ApplyAsync(temp.Combine("rootfs"), [new LayerBlob(joined, MediaTypes.OciLayerZstd, Digest.Sha256(tar))], new LayerApplyOptions { Privileged = false });
        Assert.Equal(Digest.Sha256(tar), result.DiffIds[0]);
    }

    [Fact]
    public async Task Zstd_bytes_under_a_plain_tar_media_type_are_sniffed()
    {
        using var temp = new TempDirectory("zstd-sniff");
        var path = await ZstdCompress(temp, SampleTar());
        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, [new LayerBlob(path, MediaTypes.OciLayer)], new LayerApplyOptions { Privileged = false });
        Assert.True(File.Exists(Path.Combine(target, "big")));
    }

    [Fact]
    public async Task Truncated_zstd_is_a_corrupt_layer()
    {
        using var temp = new TempDirectory("zstd-trunc");
        var path = await ZstdCompress(temp, SampleTar());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
        var parent = temp.Combine("out");
        await Assert.ThrowsAsync<CorruptLayerException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [new LayerBlob(path, MediaTypes.OciLayerZstd)], new LayerApplyOptions { Privileged = false }));
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }

    [Fact]
    public async Task Zstd_layer_written_by_basalt_decompresses_with_the_cli()
    {
        Requires.Tool("zstd", "zstd");
        using var temp = new TempDirectory("zstd-write");
        var source = temp.Combine("source");
        Directory.CreateDirectory(Path.Combine(source, "etc"));
        File.WriteAllText(Path.Combine(source, "etc/motd"), "hello");
        var layer = temp.Combine("layer.tar.zst");
        LayerWriteResult written;
        await using (var output = File.Create(layer))
        {
            written = await new LayerWriter().WriteAsync(source, output, LayerCompression.Zstd);
        }

        await new ToolRunner().RunAsync(new ToolInvocation("zstd", ["-q", "-d", layer, "-o", temp.Combine("layer.tar")]) { Package = "zstd" });
        Assert.Equal(written.DiffId, Digest.Sha256(File.ReadAllBytes(temp.Combine("layer.tar"))));
    }
}
