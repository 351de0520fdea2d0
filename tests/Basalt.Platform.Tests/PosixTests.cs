using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Platform.Tests;

public sealed class PosixTests
{
    [Fact]
    public void Status_describes_the_link_itself_not_its_target()
    {
        using var directory = new TempDirectory("posix");
        var target = directory.Combine("target");
        File.WriteAllText(target, "12345");
        var link = directory.Combine("link");
        File.CreateSymbolicLink(link, "target");

        var linkStatus = Posix.GetStatus(link);
        var fileStatus = Posix.GetStatus(target);

        Assert.Equal(UnixFileKind.SymbolicLink, linkStatus.Kind);
        Assert.Equal(UnixFileKind.Regular, fileStatus.Kind);
        Assert.Equal(5, fileStatus.Size);
    }

    [Fact]
    public void Data_regions_of_a_sparse_file_are_found_without_reading_its_holes()
    {
        const long MiB = 1024 * 1024;
        using var directory = new TempDirectory("posix");
        var path = directory.Combine("sparse");
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 64 * MiB);
            RandomAccess.Write(file, new byte[4096].Select(_ => (byte)1).ToArray(), 32 * MiB);
            RandomAccess.Write(file, new byte[4096].Select(_ => (byte)2).ToArray(), 60 * MiB);
        }

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        Assert.Equal((32 * MiB, (32 * MiB) + 4096), Posix.NextDataRegion(handle, 0));
        Assert.Equal((32 * MiB, (32 * MiB) + 4096), Posix.NextDataRegion(handle, 32 * MiB));
        Assert.Equal((60 * MiB, (60 * MiB) + 4096), Posix.NextDataRegion(handle, (32 * MiB) + 4096));
        Assert.Null(Posix.NextDataRegion(handle, (60 * MiB) + 4096));
    }

    [Fact]
    public void A_file_of_holes_only_has_no_data_region()
    {
        using var directory = new TempDirectory("posix");
        var path = directory.Combine("holes");
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 1L << 30);
        }

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        Assert.Null(Posix.NextDataRegion(handle, 0));
    }

    [Fact]
    public void Hard_links_share_an_inode_and_count_links()
    {
        using var directory = new TempDirectory("posix");
        var first = directory.Combine("a");
        File.WriteAllText(first, "x");
        Posix.CreateHardLink(first, directory.Combine("b"));

        var a = Posix.GetStatus(first);
        var b = Posix.GetStatus(directory.Combine("b"));

        Assert.Equal(a.Inode, b.Inode);
        Assert.Equal(2u, a.LinkCount);
    }

    [Fact]
    public void Exchange_swaps_two_paths_atomically()
    {
        using var directory = new TempDirectory("posix");
        File.WriteAllText(directory.Combine("a"), "A");
        File.WriteAllText(directory.Combine("b"), "B");

        Posix.ExchangePaths(directory.Combine("a"), directory.Combine("b"));

        Assert.Equal("B", File.ReadAllText(directory.Combine("a")));
        Assert.Equal("A", File.ReadAllText(directory.Combine("b")));
    }

    [Fact]
    public void Rename_without_replace_refuses_an_existing_target_and_leaves_both()
    {
        using var directory = new TempDirectory("posix");
        File.WriteAllText(directory.Combine("a"), "A");
        File.WriteAllText(directory.Combine("b"), "B");

        var error = Assert.Throws<HostCallException>(() => Posix.RenameNoReplaceTarget(directory.Combine("a"), directory.Combine("b")));

        Assert.Equal(Errno.EEXIST, error.ErrorNumber);
        Assert.Equal("A", File.ReadAllText(directory.Combine("a")));
        Assert.Equal("B", File.ReadAllText(directory.Combine("b")));
    }

    [Fact]
    public void Times_are_set_on_a_symlink_without_touching_its_target()
    {
        using var directory = new TempDirectory("posix");
        File.WriteAllText(directory.Combine("target"), "x");
        File.CreateSymbolicLink(directory.Combine("link"), "target");
        var when = new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero);

        Posix.SetTimes(directory.Combine("link"), when, when);

        Assert.Equal(when, Posix.GetStatus(directory.Combine("link")).ModifiedTime);
        Assert.NotEqual(when, Posix.GetStatus(directory.Combine("target")).ModifiedTime);
    }

    [Fact]
    public void Extended_attributes_round_trip_binary_values()
    {
        using var directory = new TempDirectory("posix");
        var file = directory.Combine("f");
        File.WriteAllText(file, "x");
        byte[] value = [0x00, 0xff, 0x80, 0x01];

        Posix.SetExtendedAttribute(file, "user.basalt", value);

        Assert.Contains("user.basalt", Posix.ListExtendedAttributes(file));
        Assert.Equal(value, Posix.GetExtendedAttribute(file, "user.basalt"));
        Assert.Null(Posix.GetExtendedAttribute(file, "user.absent"));
    }

    [Fact]
    public void A_failed_call_names_the_call_the_path_and_the_reason()
    {
        var error = Assert.Throws<HostCallException>(() => Posix.Sync("/nonexistent/basalt/path"));

        Assert.Equal(Errno.ENOENT, error.ErrorNumber);
        Assert.Contains("/nonexistent/basalt/path", error.Message);
        Assert.Contains("no such file or directory", error.Message);
    }

    [Theory]
    [InlineData(8u, 1u, 0x801ul)]
    [InlineData(259u, 0u, 0x10300ul)]
    [InlineData(1u, 300u, 0x10012Cul)]
    public void Device_numbers_follow_the_glibc_encoding(uint major, uint minor, ulong expected)
    {
        Assert.Equal(expected, Posix.MakeDevice(major, minor));
    }
}

/// <summary>Bind mounts made with the syscall, as the boot mounter makes them; needs root.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class PosixMountTests
{
    [Fact]
    public async Task A_bind_mount_shows_the_source_at_the_target_and_a_missing_source_is_a_host_call_error()
    {
        Requires.Root();
        Requires.Tool("umount", "mount");
        using var directory = new TempDirectory("posix-bind");
        var source = directory.Combine("state");
        var target = directory.Combine("target");
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(target);
        await File.WriteAllTextAsync(Path.Combine(source, "kept"), "persistent");

        Posix.BindMount(source, target);
        try
        {
            Assert.Equal("persistent", await File.ReadAllTextAsync(Path.Combine(target, "kept")));
        }
        finally
        {
            await new ToolRunner().RunAsync(new ToolInvocation("umount", [target]) { Package = "mount" });
        }

        Assert.False(File.Exists(Path.Combine(target, "kept")));
        var error = Assert.Throws<HostCallException>(() => Posix.BindMount(directory.Combine("missing"), target));
        Assert.Contains("mount(MS_BIND)", error.Message, StringComparison.Ordinal);
    }
}
