using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>LayerWriter → LayerApplier reproduces a tree exactly, compared with TreeSnapshot.</summary>
public sealed class LayerRoundTripTests
{
    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Rwx = Rw | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private static readonly DateTimeOffset Past = new(2023, 3, 4, 5, 6, 7, TimeSpan.Zero);

    // cap_net_raw,cap_setuid+ep as VFS_CAP_REVISION_2: binary, with bytes >= 0x80 that UTF-8 text would mangle.
    private static readonly byte[] Capability =
        [0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    private static void Touch(string path, DateTimeOffset time) => Posix.SetTimes(path, time, time);

    /// <summary>A tree with everything an unprivileged user can make.</summary>
    private static void BuildPortableTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "etc/deep/er"));
        File.WriteAllText(Path.Combine(root, "etc/hostname"), "node-1\n");
        File.WriteAllText(Path.Combine(root, "etc/deep/er/file"), "deep");
        File.WriteAllBytes(Path.Combine(root, "empty"), []);
        var script = Path.Combine(root, "run.sh");
        File.WriteAllText(script, "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(script, Rwx);
        var readOnly = Path.Combine(root, "ro");
        File.WriteAllText(readOnly, "ro");
        File.SetUnixFileMode(readOnly, UnixFileMode.UserRead);
        var longName = Path.Combine(root, new string('l', 120) + "-long", new string('n', 150));
        Directory.CreateDirectory(Path.GetDirectoryName(longName)!);
        File.WriteAllText(longName, "long");
        File.WriteAllText(Path.Combine(root, "ünïcødé-名前"), "unicode");
        File.CreateSymbolicLink(Path.Combine(root, "rel-link"), "etc/hostname");
        File.CreateSymbolicLink(Path.Combine(root, "abs-link"), "/proc/self/mounts");
        File.CreateSymbolicLink(Path.Combine(root, "dangling"), "no/such/" + new string('t', 120));
        File.WriteAllText(Path.Combine(root, "hard1"), "shared inode");
        Posix.CreateHardLink(Path.Combine(root, "hard1"), Path.Combine(root, "etc/hard2"));
        Posix.CreateHardLink(Path.Combine(root, "hard1"), Path.Combine(root, "hard3"));
        Posix.CreateFifo(Path.Combine(root, "pipe"), Rw);
        using (var sparse = new FileStream(Path.Combine(root, "sparse.img"), FileMode.CreateNew))
        {
            sparse.SetLength(64L << 20);
            sparse.Seek(40L << 20, SeekOrigin.Begin);
            sparse.Write("data in the middle"u8);
        }

        Posix.SetExtendedAttribute(Path.Combine(root, "etc/hostname"), "user.basalt.test", [0x00, 0xff, 0x80, 0x41]);
        var sticky = Path.Combine(root, "tmp");
        Directory.CreateDirectory(sticky);
        File.SetUnixFileMode(sticky, Rwx | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.StickyBit);
        var readOnlyDirectory = Path.Combine(root, "sealed");
        Directory.CreateDirectory(readOnlyDirectory);
        File.WriteAllText(Path.Combine(readOnlyDirectory, "inside"), "x");

        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).OrderByDescending(p => p.Length))
        {
            Touch(entry, Past);
        }

        File.SetUnixFileMode(readOnlyDirectory, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        Touch(readOnlyDirectory, Past);
    }

    /// <summary>What only root can make: owners, devices, setuid/setgid, security.capability.</summary>
    private static void AddPrivilegedEntries(string root)
    {
        var ping = Path.Combine(root, "ping");
        File.WriteAllText(ping, "binary");
        Posix.ChangeOwner(ping, 0, 0);
        File.SetUnixFileMode(ping, Rwx);
        Posix.SetExtendedAttribute(ping, "security.capability", Capability);
        var sudo = Path.Combine(root, "sudo");
        File.WriteAllText(sudo, "setuid");
        File.SetUnixFileMode(sudo, Rwx | UnixFileMode.SetUser);
        var owned = Path.Combine(root, "owned");
        File.WriteAllText(owned, "owned");
        Posix.ChangeOwner(owned, 1234, 5678);
        var shared = Path.Combine(root, "shared");
        Directory.CreateDirectory(shared);
        Posix.ChangeOwner(shared, 1000, 100);
        File.SetUnixFileMode(shared, Rwx | UnixFileMode.GroupWrite | UnixFileMode.SetGroup);
        Posix.ChangeOwner(Path.Combine(root, "rel-link"), 42, 43);
        var big = Path.Combine(root, "bigid");
        File.WriteAllText(big, "ids beyond octal fields");
        Posix.ChangeOwner(big, 3_000_000, 4_000_000);
        Directory.CreateDirectory(Path.Combine(root, "dev"));
        Posix.CreateDevice(Path.Combine(root, "dev/null"), UnixFileKind.CharacterDevice, Rw | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite, 1, 3);
        Posix.CreateDevice(Path.Combine(root, "dev/loop0"), UnixFileKind.BlockDevice, Rw, 7, 0);
        Posix.CreateDevice(Path.Combine(root, "dev/bigdev"), UnixFileKind.CharacterDevice, Rw, 511, 70000);
        foreach (var entry in new[] { ping, sudo, owned, shared, big, Path.Combine(root, "rel-link"), Path.Combine(root, "dev/null"), Path.Combine(root, "dev/loop0"), Path.Combine(root, "dev/bigdev"), Path.Combine(root, "dev"), root })
        {
            Touch(entry, Past);
        }
    }

    private static async Task<(LayerWriteResult Result, string Path)> WriteLayer(TempDirectory temp, string source, LayerCompression compression, LayerWriteOptions? options = null)
    {
        var path = temp.Combine($"layer-{Guid.NewGuid():N}");
        await using var output = File.Create(path);
        var result = await new LayerWriter().WriteAsync(source, output, compression, options);
        return (result, path);
    }

    [Theory]
    [InlineData(LayerCompression.Gzip)]
    [InlineData(LayerCompression.None)]
    [InlineData(LayerCompression.Zstd)]
    public async Task Unprivileged_round_trip_reproduces_the_tree(LayerCompression compression)
    {
        using var temp = new TempDirectory("roundtrip");
        var source = temp.Combine("source");
        Directory.CreateDirectory(source);
        BuildPortableTree(source);
        var (result, layerPath) = await WriteLayer(temp, source, compression);

        Assert.Equal(new FileInfo(layerPath).Length, result.Size);
        Assert.Equal(Digest.Sha256(File.ReadAllBytes(layerPath)), result.Digest);
        if (compression == LayerCompression.None)
        {
            Assert.Equal(result.Digest, result.DiffId);
        }

        var mediaType = compression switch
        {
            LayerCompression.Gzip => MediaTypes.OciLayerGzip,
            LayerCompression.Zstd => MediaTypes.OciLayerZstd,
            _ => MediaTypes.OciLayer,
        };
        var target = temp.Combine("target");
        var applied = await new LayerApplier().ApplyAsync(target, [new LayerBlob(layerPath, mediaType, result.DiffId)],
            new LayerApplyOptions { Privileged = false, PreserveOwnership = false });
        Assert.Equal([result.DiffId], applied.DiffIds);
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(source), TreeSnapshot.Capture(target), new TreeCompareOptions { IgnoreOwnership = true });
        var sparse = Posix.GetStatus(Path.Combine(target, "sparse.img"));
        Assert.True(sparse.AllocatedBytes < (8L << 20), $"sparse.img should stay sparse, {sparse.AllocatedBytes} bytes allocated");
    }

    [Fact]
    [Trait(Tiers.Key, Tiers.Integration)]
    public async Task Privileged_round_trip_reproduces_owners_devices_capabilities_and_setuid()
    {
        Requires.Root();
        using var temp = new TempDirectory("roundtrip-root");
        var source = temp.Combine("source");
        Directory.CreateDirectory(source);
        BuildPortableTree(source);
        AddPrivilegedEntries(source);
        var (result, layerPath) = await WriteLayer(temp, source, LayerCompression.Gzip);
        var target = temp.Combine("target");
        await new LayerApplier().ApplyAsync(target, [new LayerBlob(layerPath, MediaTypes.OciLayerGzip, result.DiffId)]);

        var expected = TreeSnapshot.Capture(source);
        var actual = TreeSnapshot.Capture(target);
        TreeSnapshot.AssertEqual(expected, actual);
        Assert.Equal(Convert.ToHexStringLower(Capability), actual["ping"].ExtendedAttributes["security.capability"]);
        Assert.Equal("4755", actual["sudo"].OctalMode);
        Assert.Equal("2775", actual["shared"].OctalMode);
        Assert.Equal((3_000_000, 4_000_000), (actual["bigid"].UserId, actual["bigid"].GroupId));
        Assert.Equal((7u, 0u), (actual["dev/loop0"].DeviceMajor, actual["dev/loop0"].DeviceMinor));
        Assert.Equal("etc/hard2", actual["hard3"].HardLinkGroup);
    }

    [Fact]
    public async Task Layers_are_deterministic()
    {
        using var temp = new TempDirectory("deterministic");
        var source = temp.Combine("source");
        Directory.CreateDirectory(source);
        BuildPortableTree(source);
        var options = new LayerWriteOptions { ModifiedTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), UserId = 0, GroupId = 0 };
        var (first, firstPath) = await WriteLayer(temp, source, LayerCompression.Gzip, options);
        File.SetLastAccessTimeUtc(Path.Combine(source, "empty"), DateTime.UtcNow);
        var (second, secondPath) = await WriteLayer(temp, source, LayerCompression.Gzip, options);
        Assert.Equal(first, second);
        Assert.Equal(File.ReadAllBytes(firstPath), File.ReadAllBytes(secondPath));

        var target = temp.Combine("target");
        await new LayerApplier().ApplyAsync(target, [new LayerBlob(firstPath, MediaTypes.OciLayerGzip, first.DiffId)], new LayerApplyOptions { Privileged = false, PreserveOwnership = false });
        Assert.All(TreeSnapshot.Capture(target).Entries.Values, e => Assert.Equal(1_700_000_000, e.ModifiedSeconds));
    }

    [Fact]
    public async Task Diff_layer_on_top_of_the_lower_layer_reproduces_the_upper_tree()
    {
        using var temp = new TempDirectory("diff");
        var lower = temp.Combine("lower");
        var upper = temp.Combine("upper");
        Directory.CreateDirectory(lower);
        Directory.CreateDirectory(upper);
        BuildPortableTree(lower);
        BuildPortableTree(upper);

        // same size, same mtime, different bytes: only a content comparison notices
        File.WriteAllText(Path.Combine(upper, "etc/deep/er/file"), "DEEP");
        Touch(Path.Combine(upper, "etc/deep/er/file"), Past);
        File.WriteAllText(Path.Combine(upper, "added"), "new file");
        File.Delete(Path.Combine(upper, "empty"));
        File.SetUnixFileMode(Path.Combine(upper, "sealed"), Rwx);
        Directory.Delete(Path.Combine(upper, "sealed"), recursive: true);
        File.SetUnixFileMode(Path.Combine(upper, "run.sh"), Rw);
        File.Delete(Path.Combine(upper, "rel-link"));
        Directory.CreateDirectory(Path.Combine(upper, "rel-link"));
        File.WriteAllText(Path.Combine(upper, "rel-link/now-a-dir"), "x");
        Touch(Path.Combine(upper, "rel-link"), Past);
        foreach (var directory in new[] { "etc/deep/er", "etc/deep", "etc", "" })
        {
            Touch(Path.Combine(upper, directory), Past);
        }

        var (lowerLayer, lowerPath) = await WriteLayer(temp, lower, LayerCompression.Gzip);
        var diffPath = temp.Combine("diff.tar");
        LayerWriteResult diff;
        await using (var output = File.Create(diffPath))
        {
            diff = await new LayerWriter().WriteDiffAsync(lower, upper, output, LayerCompression.None);
        }

        var target = temp.Combine("target");
        await new LayerApplier().ApplyAsync(target,
            [new LayerBlob(lowerPath, MediaTypes.OciLayerGzip, lowerLayer.DiffId), new LayerBlob(diffPath, MediaTypes.OciLayer, diff.DiffId)],
            new LayerApplyOptions { Privileged = false, PreserveOwnership = false });
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(upper), TreeSnapshot.Capture(target), new TreeCompareOptions { IgnoreOwnership = true });

        // unchanged entries are not in the diff layer
        Assert.True(diff.Size < lowerLayer.Size * 4, "the diff should be small");
        var names = await ListNames(diffPath);
        Assert.Contains(".wh.empty", names);
        Assert.Contains(".wh.sealed", names);
        Assert.Contains("added", names);
        Assert.Contains("etc/deep/er/file", names);
        Assert.DoesNotContain("etc/hostname", names);
        Assert.DoesNotContain("sparse.img", names);
    }

    [Fact]
    public async Task Diff_of_identical_trees_is_empty()
    {
        using var temp = new TempDirectory("diff-same");
        var lower = temp.Combine("lower");
        Directory.CreateDirectory(lower);
        BuildPortableTree(lower);
        var diffPath = temp.Combine("diff.tar");
        await using (var output = File.Create(diffPath))
        {
            await new LayerWriter().WriteDiffAsync(lower, lower, output, LayerCompression.None);
        }

        Assert.Empty(await ListNames(diffPath));
    }

    private static async Task<List<string>> ListNames(string tarPath)
    {
        var names = new List<string>();
        await using var stream = File.OpenRead(tarPath);
        var reader = new TarStreamReader(stream, "test");
        while (await reader.GetNextEntryAsync(CancellationToken.None) is { } entry)
        {
            names.Add(entry.Name.TrimEnd('/'));
        }

        return names;
    }
}
