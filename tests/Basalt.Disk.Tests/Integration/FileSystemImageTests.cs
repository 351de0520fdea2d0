using Basalt.Disk.FileSystems;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Integration;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class FileSystemImageTests
{
    private const long MiB = 1024 * 1024;
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static void MakeTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), "ID=basalt\n");
        File.WriteAllBytes(Path.Combine(root, "usr", "bin", "tool"), new byte[300_000]);
        File.CreateSymbolicLink(Path.Combine(root, "bin"), "usr/bin");
        File.WriteAllText(Path.Combine(root, "owned"), "by 1000");
        Posix.ChangeOwner(Path.Combine(root, "owned"), 1000, 1000);
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            Posix.SetTimes(path, Epoch, Epoch);
        }
    }

    /// <summary>
    /// Changes atime and ctime of every entry (as unpacking the same tree again would) and keeps mtime:
    /// images built with a Timestamp must not notice.
    /// </summary>
    internal static void DisturbTimes(string root)
    {
        var now = DateTimeOffset.UtcNow.AddSeconds(5);
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            Posix.SetTimes(path, now, Posix.GetStatus(path).ModifiedTime);
        }
    }

    [Fact]
    public async Task Ext4_image_from_a_directory_passes_fsck_with_label_uuid_owners_and_fixed_times()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        using var temp = new TempDirectory("ext4");
        var tree = temp.Combine("tree");
        MakeTree(tree);
        var estimate = Ext4Sizing.ForTree(DirectoryTree.Measure(tree));
        var uuid = Guid.Parse("6f1c8a52-0d8e-5b7a-9c3e-2f4b6d8e0a1c");
        var image = temp.Combine("active.img");
        var spec = new Ext4ImageSpec("COS_ACTIVE", uuid, estimate.ImageBytes) { SourceDirectory = tree, InodeCount = estimate.InodeCount, ReservedPercent = 0, Timestamp = Epoch };
        await new Ext4ImageBuilder(Host.Runner).BuildAsync(image, spec);

        await Host.RunAsync("e2fsck", "-fn", image);
        var header = (await Host.RunAsync("dumpe2fs", "-h", image)).StandardOutput;
        Assert.Matches(@"Filesystem volume name:\s+COS_ACTIVE", header);
        Assert.Matches($@"Filesystem UUID:\s+{uuid}", header);
        var listing = (await Host.RunAsync("debugfs", "-R", "stat /owned", image)).StandardOutput;
        Assert.Matches(@"User:\s+1000\s+Group:\s+1000", listing);
        var root = (await Host.RunAsync("debugfs", "-R", "stat /", image)).StandardOutput;
        Assert.Matches(@"User:\s+0\s+Group:\s+0", root);

        var clamped = (await Host.RunAsync("debugfs", "-R", "stat /etc/os-release", image)).StandardOutput;
        Assert.Matches(@"ctime: 0x6553f100:", clamped);
        Assert.Matches(@"atime: 0x6553f100:", clamped);

        DisturbTimes(tree);
        var again = temp.Combine("again.img");
        await new Ext4ImageBuilder(Host.Runner).BuildAsync(again, spec);
        Assert.Equal(Host.Sha256(image), Host.Sha256(again));
    }

    [Fact]
    public async Task Ext4_clone_is_a_sparse_clean_copy_of_the_tree_with_its_own_label_and_uuid_and_reproducible()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("tune2fs", "e2fsprogs");
        using var temp = new TempDirectory("ext4-clone");
        var tree = temp.Combine("tree");
        MakeTree(tree);
        var estimate = Ext4Sizing.ForTree(DirectoryTree.Measure(tree), headroomPercent: 400);
        var image = temp.Combine("active.img");
        var spec = new Ext4ImageSpec("COS_ACTIVE", Guid.NewGuid(), estimate.ImageBytes) { SourceDirectory = tree, InodeCount = estimate.InodeCount, ReservedPercent = 0, Timestamp = Epoch };
        var builder = new Ext4ImageBuilder(Host.Runner);
        await builder.BuildAsync(image, spec);
        var before = Host.Sha256(image);

        var uuid = Guid.Parse("0b5d7e31-94c2-4f6a-8d1e-3c7a9b2f4e60");
        var clone = temp.Combine("passive.img");
        await builder.CloneAsync(image, clone, "COS_PASSIVE", uuid, Epoch);

        Assert.Equal(before, Host.Sha256(image));
        Assert.Equal(new FileInfo(image).Length, new FileInfo(clone).Length);
        Assert.True(Posix.GetStatus(clone).AllocatedBytes < new FileInfo(clone).Length / 2, "the empty blocks of the copy stay holes");
        await Host.RunAsync("e2fsck", "-fn", clone);
        var header = (await Host.RunAsync("dumpe2fs", "-h", clone)).StandardOutput;
        Assert.Matches(@"Filesystem volume name:\s+COS_PASSIVE", header);
        Assert.Matches($@"Filesystem UUID:\s+{uuid}", header);
        Assert.Equal("ID=basalt\n", (await Host.RunAsync("debugfs", "-R", "cat /etc/os-release", clone)).StandardOutput);
        Assert.Matches(@"User:\s+1000\s+Group:\s+1000", (await Host.RunAsync("debugfs", "-R", "stat /owned", clone)).StandardOutput);

        var again = temp.Combine("passive-again.img");
        await builder.CloneAsync(image, again, "COS_PASSIVE", uuid, Epoch);
        Assert.Equal(Host.Sha256(clone), Host.Sha256(again));
        Assert.Empty(Directory.EnumerateFiles(temp.Path, "*.tmp*"));
    }

    [Fact]
    public async Task Ext4_clone_of_a_missing_image_is_a_typed_error_that_writes_nothing()
    {
        using var temp = new TempDirectory("ext4-clone");
        var target = temp.Combine("passive.img");
        await Assert.ThrowsAsync<DiskSourceNotFoundException>(() => new Ext4ImageBuilder(Host.Runner).CloneAsync(temp.Combine("absent.img"), target, "COS_PASSIVE", Guid.NewGuid()));
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task Ext4_size_estimated_from_a_tree_of_many_small_files_is_enough()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        using var temp = new TempDirectory("ext4");
        var tree = temp.Combine("tree");
        for (var directory = 0; directory < 40; directory++)
        {
            var path = Path.Combine(tree, $"d{directory}");
            Directory.CreateDirectory(path);
            for (var file = 0; file < 100; file++)
            {
                File.WriteAllBytes(Path.Combine(path, $"file-with-a-longer-name-{file}"), new byte[(file * 997) % 9000]);
            }
        }

        var estimate = Ext4Sizing.ForTree(DirectoryTree.Measure(tree), headroomPercent: 0);
        var image = temp.Combine("tight.img");
        await new Ext4ImageBuilder(Host.Runner).BuildAsync(image, new Ext4ImageSpec("TIGHT", Guid.NewGuid(), estimate.ImageBytes) { SourceDirectory = tree, InodeCount = estimate.InodeCount, ReservedPercent = 0 });
        await Host.RunAsync("e2fsck", "-fn", image);
    }

    [Fact]
    public async Task Ext4_image_too_small_for_its_tree_fails_with_mkfs_stderr_and_leaves_nothing()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        using var temp = new TempDirectory("ext4");
        var tree = temp.Combine("tree");
        Directory.CreateDirectory(tree);
        // Random bytes: mke2fs -d leaves zero blocks as holes, so zeros would fit anywhere.
        File.WriteAllBytes(Path.Combine(tree, "big"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(6 * (int)MiB));
        var output = temp.Combine("out");
        Directory.CreateDirectory(output);
        var error = await Assert.ThrowsAsync<FileSystemBuildException>(() =>
            new Ext4ImageBuilder(Host.Runner).BuildAsync(Path.Combine(output, "small.img"), new Ext4ImageSpec("SMALL", Guid.NewGuid(), 4 * MiB) { SourceDirectory = tree }));
        Assert.False(string.IsNullOrWhiteSpace(error.StandardError));
        Assert.Empty(Directory.EnumerateFileSystemEntries(output));
    }

    [Fact]
    public async Task Vfat_image_is_built_without_mounting_and_passes_fsck()
    {
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("fsck.vfat", "dosfstools");
        using var temp = new TempDirectory("vfat");
        var staging = temp.Combine("esp");
        Directory.CreateDirectory(Path.Combine(staging, "EFI", "basalt"));
        File.WriteAllText(Path.Combine(staging, "EFI", "basalt", "grubenv"), new string('#', 1024));
        var bootloader = temp.Combine("grubx64.efi");
        File.WriteAllBytes(bootloader, Enumerable.Range(0, 200_000).Select(index => (byte)index).ToArray());
        var config = temp.Combine("grub.cfg");
        File.WriteAllText(config, "set timeout=1\n");
        var image = temp.Combine("efi.img");
        var spec = new VfatImageSpec("COS_GRUB", 0x1234ABCD, 64 * MiB)
        {
            SourceDirectory = staging,
            Files = [new VfatFile(bootloader, "EFI/BOOT/BOOTX64.EFI"), new VfatFile(config, "EFI/BOOT/grub.cfg"), new VfatFile(config, "EFI/basalt/grub.cfg")],
            Timestamp = Epoch,
        };
        await new VfatImageBuilder(Host.Runner).BuildAsync(image, spec);

        await Host.RunAsync("fsck.vfat", "-n", image);
        var environment = new Dictionary<string, string> { ["MTOOLS_SKIP_CHECK"] = "1" };
        var listing = (await Host.Runner.RunAsync(new ToolInvocation("mdir", ["-/", "-b", "-i", image, "::/"]) { Environment = environment })).StandardOutput;
        Assert.Contains("::/EFI/BOOT/BOOTX64.EFI", listing, StringComparison.Ordinal);
        Assert.Contains("::/EFI/basalt/grubenv", listing, StringComparison.Ordinal);
        var copied = temp.Combine("copied.efi");
        await Host.Runner.RunAsync(new ToolInvocation("mcopy", ["-i", image, "::/EFI/BOOT/BOOTX64.EFI", copied]) { Environment = environment });
        Assert.Equal(File.ReadAllBytes(bootloader), File.ReadAllBytes(copied));
        var probe = (await Host.RunAsync("blkid", "-p", "-o", "export", image)).StandardOutput;
        Assert.Contains("LABEL=COS_GRUB", probe, StringComparison.Ordinal);
        Assert.Contains("UUID=1234-ABCD", probe, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Squashfs_image_keeps_files_and_uses_xz()
    {
        Requires.Root();
        Requires.Tool("mksquashfs", "squashfs-tools");
        using var temp = new TempDirectory("squashfs");
        var tree = temp.Combine("tree");
        MakeTree(tree);
        var image = temp.Combine("recovery.squashfs");
        var spec = new SquashfsImageSpec(tree) { Timestamp = Epoch, Processors = 1 };
        await new SquashfsImageBuilder(Host.Runner).BuildAsync(image, spec);

        var superblock = (await Host.RunAsync("unsquashfs", "-s", image)).StandardOutput;
        Assert.Contains("Compression xz", superblock, StringComparison.Ordinal);
        var listing = (await Host.RunAsync("unsquashfs", "-lln", image)).StandardOutput;
        Assert.Contains("squashfs-root/etc/os-release", listing, StringComparison.Ordinal);
        Assert.Matches(@"1000/1000\s+\d+\s+[-0-9: ]+squashfs-root/owned", listing);

        var again = temp.Combine("again.squashfs");
        await new SquashfsImageBuilder(Host.Runner).BuildAsync(again, spec);
        Assert.Equal(Host.Sha256(image), Host.Sha256(again));
    }
}
