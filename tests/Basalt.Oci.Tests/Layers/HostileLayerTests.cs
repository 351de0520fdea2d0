using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>Hostile and malformed layers: each fails with its typed error and leaves nothing behind.</summary>
public sealed class HostileLayerTests
{
    private static readonly LayerApplyOptions Unprivileged = new() { Privileged = false };

    private static async Task<TException> AssertRejected<TException>(params byte[][] layers)
        where TException : Exception
    {
        using var temp = new TempDirectory("hostile");
        var blobs = layers.Select((tar, i) => LayerFiles.Write(temp, $"layer{i}.tar", tar)).ToList();
        var parent = temp.Combine("out");
        Directory.CreateDirectory(parent);
        var outside = temp.Combine("outside-marker");
        var error = await Assert.ThrowsAsync<TException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), blobs, Unprivileged));
        LayerFiles.AssertNothingLeft(parent, "rootfs");
        Assert.False(File.Exists(outside));
        Assert.Equal(["layer0.tar", .. Enumerable.Range(1, layers.Length - 1).Select(i => $"layer{i}.tar"), "out"],
            Directory.EnumerateFileSystemEntries(temp.Path).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray());
        return error;
    }

    [Fact]
    public async Task Parent_traversal_is_rejected_naming_layer_and_entry()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().File("ok", "x").File("../outside-marker", "evil").ToArray());
        Assert.Equal("../outside-marker", error.Entry);
        Assert.Equal("layer0.tar", error.Layer);
        Assert.Contains("..", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Traversal_hidden_inside_a_path_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().File("a/b/../../../outside-marker", "evil").ToArray());
        Assert.Equal("a/b/../../../outside-marker", error.Entry);
    }

    [Fact]
    public async Task Absolute_name_that_climbs_out_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().File("/../../../../outside-marker", "evil").ToArray());
        Assert.Equal("/../../../../outside-marker", error.Entry);
    }

    [Fact]
    public async Task Absolute_name_that_stays_inside_is_applied_relative_to_the_root()
    {
        using var temp = new TempDirectory("absolute");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder().File("/etc/hostname", "node").ToArray());
        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, [layer], Unprivileged);
        Assert.Equal("node", File.ReadAllText(Path.Combine(target, "etc/hostname")));
    }

    [Fact]
    public async Task Writing_through_a_symlink_that_climbs_out_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(
            new TarBuilder().Symlink("escape", "../../..").File("escape/outside-marker", "evil").ToArray());
        Assert.Equal("escape/outside-marker", error.Entry);
        Assert.Contains("escape", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writing_through_an_absolute_symlink_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(
            new TarBuilder().Symlink("etc", "/etc").File("etc/passwd", "root::0:0::/:/bin/sh").ToArray());
        Assert.Equal("etc/passwd", error.Entry);
        Assert.Contains("absolute", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Symlink_planted_by_an_earlier_layer_then_written_through_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(
            new TarBuilder().Directory("usr").Symlink("a", "/tmp").ToArray(),
            new TarBuilder().File("a/outside-marker", "evil").ToArray());
        Assert.Equal("layer1.tar", error.Layer);
        Assert.Equal("a/outside-marker", error.Entry);
    }

    [Fact]
    public async Task Directory_replaced_by_an_escaping_symlink_in_the_same_layer_is_not_written_through()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(
            new TarBuilder().Directory("a").File("a/x", "x").Symlink("a", "/etc").File("a/passwd", "evil").ToArray());
        Assert.Equal("a/passwd", error.Entry);
    }

    [Fact]
    public async Task Directory_whited_out_and_replaced_by_a_symlink_in_a_later_layer_is_not_written_through()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(
            new TarBuilder().Directory("a/b").File("a/b/x", "x").ToArray(),
            new TarBuilder().File("a/b/y", "y").File(".wh.a", string.Empty).Symlink("a", "../..").File("a/b/z", "evil").ToArray());
        Assert.Equal("a/b/z", error.Entry);
    }

    [Fact]
    public async Task Relative_symlink_inside_the_root_is_followed()
    {
        using var temp = new TempDirectory("follow");
        var lower = LayerFiles.Write(temp, "l0.tar", new TarBuilder().Directory("usr/lib").Symlink("lib", "usr/lib").ToArray());
        var upper = LayerFiles.Write(temp, "l1.tar", new TarBuilder().File("lib/libx.so", "elf").ToArray());
        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, [lower, upper], Unprivileged);
        Assert.Equal("elf", File.ReadAllText(Path.Combine(target, "usr/lib/libx.so")));
        Assert.Equal("usr/lib", new FileInfo(Path.Combine(target, "lib")).LinkTarget);
    }

    [Fact]
    public async Task Hard_link_pointing_outside_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().HardLink("passwd", "../../../../etc/passwd").ToArray());
        Assert.Equal("passwd", error.Entry);
    }

    [Fact]
    public async Task Hard_link_to_a_missing_entry_is_rejected()
    {
        var error = await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().File("a", "x").HardLink("b", "missing").ToArray());
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hard_link_to_an_absolute_host_path_never_links_the_host_file()
    {
        // /etc/passwd exists on the host but not in the image: it must not be linked in.
        var error = await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().HardLink("stolen", "/etc/passwd").ToArray());
        Assert.Equal("stolen", error.Entry);
    }

    [Fact]
    public async Task Hard_link_through_an_escaping_symlink_is_rejected()
    {
        await AssertRejected<UnsafeLayerEntryException>(new TarBuilder().Symlink("up", "/").HardLink("stolen", "up/etc/passwd").ToArray());
    }

    [Fact]
    public async Task Device_node_without_root_is_a_typed_error()
    {
        var error = await AssertRejected<DeviceNodeNotPermittedException>(new TarBuilder().CharacterDevice("dev/null", 1, 3).ToArray());
        Assert.Equal("dev/null", error.Entry);
    }

    [Fact]
    public async Task Device_node_without_root_can_be_skipped_with_a_warning()
    {
        using var temp = new TempDirectory("skipdev");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder().File("a", "x").CharacterDevice("dev/null", 1, 3).Fifo("pipe").ToArray());
        var target = temp.Combine("rootfs");
        var result = await new LayerApplier().ApplyAsync(target, [layer], Unprivileged with { SkipDevicesWhenUnprivileged = true });
        Assert.False(File.Exists(Path.Combine(target, "dev/null")));
        Assert.True(Directory.Exists(Path.Combine(target, "dev")));
        Assert.Contains(result.Warnings, w => w.Contains("dev/null", StringComparison.Ordinal));
        Assert.Equal(Basalt.Platform.UnixFileKind.Fifo, Basalt.Platform.Posix.GetStatus(Path.Combine(target, "pipe")).Kind);
    }

    [Fact]
    public async Task Duplicate_entries_later_wins()
    {
        using var temp = new TempDirectory("dup");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder()
            .File("a", "first").File("a", "second")
            .Directory("d").File("d/x", "x").File("d", "now a file")
            .File("s", "file").Symlink("s", "a")
            .ToArray());
        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, [layer], Unprivileged);
        Assert.Equal("second", File.ReadAllText(Path.Combine(target, "a")));
        Assert.Equal("now a file", File.ReadAllText(Path.Combine(target, "d")));
        Assert.Equal("a", new FileInfo(Path.Combine(target, "s")).LinkTarget);
    }

    [Fact]
    public async Task Truncated_tar_is_a_corrupt_layer()
    {
        var tar = new TarBuilder().File("big", new string('x', 10_000)).File("after", "y").ToArray();
        var error = await AssertRejected<CorruptLayerException>(tar[..3000]);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_gzip_is_a_corrupt_layer()
    {
        using var temp = new TempDirectory("truncgz");
        var tar = new TarBuilder().File("big", string.Concat(Enumerable.Range(0, 5000).Select(i => i.ToString()))).ToArray();
        var gz = LayerFiles.Gzip(tar);
        var path = temp.Combine("l.tar.gz");
        File.WriteAllBytes(path, gz[..(gz.Length / 2)]);
        var parent = temp.Combine("out");
        await Assert.ThrowsAsync<CorruptLayerException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [new LayerBlob(path, MediaTypes.OciLayerGzip)], Unprivileged));
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }

    [Fact]
    public async Task Bad_gzip_is_a_corrupt_layer()
    {
        using var temp = new TempDirectory("badgz");
        var path = temp.Combine("l.tar.gz");
        File.WriteAllBytes(path, [0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x03, 0xff, 0xff, 0x13, 0x37, 0x42, 0x42, 0x42, 0x42]);
        var parent = temp.Combine("out");
        await Assert.ThrowsAsync<CorruptLayerException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [new LayerBlob(path, MediaTypes.OciLayerGzip)], Unprivileged));
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }

    [Fact]
    public async Task Gzip_media_type_without_gzip_bytes_is_a_corrupt_layer()
    {
        using var temp = new TempDirectory("notgz");
        var path = temp.Combine("l.tar.gz");
        File.WriteAllBytes(path, "this is not a layer at all"u8.ToArray());
        var parent = temp.Combine("out");
        var error = await Assert.ThrowsAsync<CorruptLayerException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [new LayerBlob(path, MediaTypes.DockerLayerGzip)], Unprivileged));
        Assert.Contains("magic", error.Message, StringComparison.Ordinal);
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }

    [Fact]
    public async Task Garbage_labelled_as_plain_tar_is_a_corrupt_layer()
    {
        await AssertRejected<CorruptLayerException>(Enumerable.Range(0, 2048).Select(i => (byte)(i * 7)).ToArray());
    }

    [Fact]
    public async Task Diff_id_mismatch_is_a_digest_error()
    {
        using var temp = new TempDirectory("diffid");
        var tar = new TarBuilder().File("a", "x").ToArray();
        var wrong = Digest.Sha256("something else"u8);
        var layer = LayerFiles.Write(temp, "l.tar.gz", tar, Model.LayerCompression.Gzip, wrong);
        var parent = temp.Combine("out");
        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [layer], Unprivileged));
        Assert.Equal(wrong, error.Expected);
        Assert.Equal(Digest.Sha256(tar), error.Actual);
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }

    [Fact]
    public async Task Matching_diff_id_is_accepted_and_reported()
    {
        using var temp = new TempDirectory("diffid-ok");
        var tar = new TarBuilder().File("a", "x").ToArray();
        var layer = LayerFiles.Write(temp, "l.tar.gz", tar, Model.LayerCompression.Gzip, Digest.Sha256(tar));
        var result = await new LayerApplier().ApplyAsync(temp.Combine("rootfs"), [layer], Unprivileged with { Durable = true });
        Assert.Equal([Digest.Sha256(tar)], result.DiffIds);
        Assert.Equal("x", File.ReadAllText(temp.Combine("rootfs", "a")));
    }

    [Fact]
    public async Task Non_empty_target_is_refused_and_left_as_it_was()
    {
        using var temp = new TempDirectory("nonempty");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder().File("a", "new").ToArray());
        var target = temp.Combine("rootfs");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep"), "mine");
        await Assert.ThrowsAsync<UnpackTargetNotEmptyException>(() => new LayerApplier().ApplyAsync(target, [layer], Unprivileged));
        Assert.Equal(["keep"], Directory.EnumerateFileSystemEntries(target).Select(p => Path.GetFileName(p)).ToArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path, ".rootfs.staging-*"));
    }

    [Fact]
    public async Task Overwrite_replaces_a_non_empty_target_atomically()
    {
        using var temp = new TempDirectory("overwrite");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder().File("a", "new").ToArray());
        var target = temp.Combine("rootfs");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "old"), "old");
        await new LayerApplier().ApplyAsync(target, [layer], Unprivileged with { OverwriteExisting = true });
        Assert.Equal(["a"], Directory.EnumerateFileSystemEntries(target).Select(p => Path.GetFileName(p)).ToArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path, ".rootfs.staging-*"));
    }

    [Fact]
    public async Task Failure_in_a_later_layer_leaves_an_existing_empty_target_empty()
    {
        using var temp = new TempDirectory("late");
        var good = LayerFiles.Write(temp, "l0.tar", new TarBuilder().File("a", "x").ToArray());
        var bad = LayerFiles.Write(temp, "l1.tar", new TarBuilder().File("../escape", "x").ToArray());
        var target = temp.Combine("rootfs");
        Directory.CreateDirectory(target);
        await Assert.ThrowsAsync<UnsafeLayerEntryException>(() => new LayerApplier().ApplyAsync(target, [good, bad], Unprivileged));
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path, ".rootfs.staging-*"));
    }

    [Fact]
    public async Task Cancellation_leaves_nothing_behind()
    {
        using var temp = new TempDirectory("cancel");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder().File("a", "x").ToArray());
        var parent = temp.Combine("out");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new LayerApplier().ApplyAsync(Path.Combine(parent, "rootfs"), [layer], Unprivileged, null, cancelled.Token));
        LayerFiles.AssertNothingLeft(parent, "rootfs");
    }
}
