using System.Formats.Tar;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>Layers made by other producers: GNU tar (PAX with binary xattrs, GNU long names, sparse) and the BCL TarWriter formats.</summary>
public sealed class TarInteropTests
{
    private static readonly LayerApplyOptions Unprivileged = new() { Privileged = false, PreserveOwnership = false };

    [Theory]
    [InlineData(TarEntryFormat.Gnu)]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Ustar)]
    public async Task Long_names_in_every_tar_format_are_read(TarEntryFormat format)
    {
        using var temp = new TempDirectory("formats");
        // ustar can hold 255 bytes split into prefix and name; GNU and PAX have no such limit
        var longDirectory = string.Join('/', Enumerable.Range(0, format == TarEntryFormat.Ustar ? 4 : 6).Select(i => $"directory-{i:D2}-{new string('d', 20)}"));
        var name = format == TarEntryFormat.Ustar ? $"{longDirectory}/file" : $"{longDirectory}/{new string('f', 180)}";
        var linkTarget = format == TarEntryFormat.Ustar ? "short" : new string('t', 150);
        var tar = new TarBuilder(format).File(name, "deep").Symlink("sym", linkTarget).ToArray();
        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, [LayerFiles.Write(temp, "l.tar", tar)], Unprivileged);
        Assert.Equal("deep", File.ReadAllText(Path.Combine(target, name)));
        Assert.Equal(linkTarget, new FileInfo(Path.Combine(target, "sym")).LinkTarget);
        Assert.Equal(TarBuilder.Time.ToUnixTimeSeconds(), Posix.GetStatus(Path.Combine(target, name)).ModifiedTime.ToUnixTimeSeconds());
    }

    [Fact]
    [Trait(Tiers.Key, Tiers.Integration)]
    public async Task Gnu_tar_pax_layer_with_binary_capability_round_trips()
    {
        Requires.Root();
        Requires.Tool("tar", "tar");
        using var temp = new TempDirectory("gnutar");
        var source = temp.Combine("source");
        Directory.CreateDirectory(Path.Combine(source, "usr/bin"));
        var ping = Path.Combine(source, "usr/bin/ping");
        File.WriteAllText(ping, "elf");
        Posix.ChangeOwner(ping, 0, 0);
        File.SetUnixFileMode(ping, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Posix.SetExtendedAttribute(ping, "security.capability", [0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
        File.WriteAllText(Path.Combine(source, new string('x', 200)), "long");
        var layer = temp.Combine("layer.tar");
        await new ToolRunner().RunAsync(new ToolInvocation("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", source, "-cf", layer, "."]) { Package = "tar" });

        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, [new LayerBlob(layer, MediaTypes.OciLayer, Digest.Sha256(File.ReadAllBytes(layer)))]);
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(source), TreeSnapshot.Capture(target));
    }

    [Theory]
    [Trait(Tiers.Key, Tiers.Integration)]
    [InlineData("gnu")]
    [InlineData("pax")]
    public async Task Gnu_sparse_entries_are_a_typed_unsupported_error(string format)
    {
        Requires.Tool("tar", "tar");
        using var temp = new TempDirectory("sparse");
        var source = temp.Combine("source");
        Directory.CreateDirectory(source);
        using (var sparse = new FileStream(Path.Combine(source, "disk.img"), FileMode.CreateNew))
        {
            sparse.SetLength(16L << 20);
            sparse.Seek(8L << 20, SeekOrigin.Begin);
            sparse.Write("x"u8);
        }

        var layer = temp.Combine("layer.tar");
        await new ToolRunner().RunAsync(new ToolInvocation("tar", [$"--format={format}", "--sparse", "-C", source, "-cf", layer, "disk.img"]) { Package = "tar" });
        var parent = temp.Combine("out");
        var error = await Assert.ThrowsAsync<UnsupportedLayerEntryException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [new LayerBlob(layer, MediaTypes.OciLayer)], Unprivileged));
        Assert.Contains("disk.img", error.Entry, StringComparison.Ordinal);
        Assert.Contains("sparse", error.Message, StringComparison.Ordinal);
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }

    [Fact]
    public async Task Progress_is_reported_per_layer()
    {
        using var temp = new TempDirectory("progress");
        var first = LayerFiles.Write(temp, "l0.tar", new TarBuilder().File("a", "a").ToArray());
        var second = LayerFiles.Write(temp, "l1.tar.gz", new TarBuilder().File("b", "b").ToArray(), LayerCompression.Gzip);
        var reports = new List<LayerApplyProgress>();
        await new LayerApplier().ApplyAsync(temp.Combine("rootfs"), [first, second], Unprivileged, new SynchronousProgress(reports.Add));
        var completed = reports.Where(r => r.LayerCompleted).ToList();
        Assert.Equal([0, 1], completed.Select(r => r.LayerIndex));
        Assert.All(completed, r => Assert.Equal(r.CompressedSize, r.CompressedBytesRead));
        Assert.All(completed, r => Assert.Equal(1, r.EntriesApplied));
    }

    private sealed class SynchronousProgress(Action<LayerApplyProgress> report) : IProgress<LayerApplyProgress>
    {
        public void Report(LayerApplyProgress value) => report(value);
    }
}
