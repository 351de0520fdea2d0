using System.Text;
using Basalt.Disk.FileSystems.Ext4;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Integration;

/// <summary>
/// Images written by <see cref="Ext4ImageWriter"/> must pass e2fsck and, mounted by the kernel, hold exactly the tree
/// they were given.
/// </summary>
[Trait(Tiers.Key, Tiers.Integration)]
[Collection(LoopDeviceCollection.Name)]
public sealed class Ext4ImageWriterTests
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    [Fact]
    public async Task Image_of_the_sample_tree_passes_fsck_and_mounts_as_the_same_tree()
    {
        Requires.Root();
        Requires.Tool("e2fsck", "e2fsprogs");
        using var temp = new TempDirectory("ext4-writer");
        var tree = temp.Combine("tree");
        SampleTree.Create(tree);
        var image = temp.Combine("image.img");
        await using (var writer = Ext4ImageWriter.Create(image, new Ext4ImageWriterOptions("COS_ACTIVE", Guid.NewGuid()) { Timestamp = Epoch }))
        {
            await CopyTreeAsync(tree, writer);
            await writer.CompleteAsync();
        }

        await Host.RunAsync("e2fsck", "-fn", image);
        await AssertMountsAsAsync(image, tree, temp.Combine("mnt"));
    }

    [Fact]
    public async Task Replaced_removed_and_linked_entries_and_writes_through_symbolic_links_end_as_the_same_steps_on_a_directory()
    {
        Requires.Root();
        Requires.Tool("e2fsck", "e2fsprogs");
        using var temp = new TempDirectory("ext4-writer-edits");
        var tree = temp.Combine("tree");
        Directory.CreateDirectory(tree);
        var image = temp.Combine("image.img");
        var file = new Ext4EntryMetadata((UnixFileMode)Convert.ToInt32("644", 8), 0, 0, Epoch);
        var directory = new Ext4EntryMetadata((UnixFileMode)Convert.ToInt32("755", 8), 0, 0, Epoch);
        await using (var writer = Ext4ImageWriter.Create(image, new Ext4ImageWriterOptions("EDITS", Guid.NewGuid()) { Timestamp = Epoch }))
        {
            async Task WriteAsync(string path, string content)
            {
                var bytes = Encoding.UTF8.GetBytes(content);
                await writer.AddFileAsync(path, file, new MemoryStream(bytes), bytes.Length);
                var host = Path.Combine(tree, path);
                if (Directory.Exists(host) && !File.GetAttributes(host).HasFlag(FileAttributes.ReparsePoint))
                {
                    Directory.Delete(host, recursive: true);
                }
                else
                {
                    File.Delete(host);
                }

                await File.WriteAllBytesAsync(host, bytes);
            }

            void MakeDirectory(string path)
            {
                writer.AddDirectory(path, directory);
                Directory.CreateDirectory(Path.Combine(tree, path));
            }

            MakeDirectory("usr");
            MakeDirectory("usr/lib");
            await WriteAsync("usr/lib/first", "first");
            writer.AddSymbolicLink("lib", file, "usr/lib");
            File.CreateSymbolicLink(Path.Combine(tree, "lib"), "usr/lib");
            // Through the link: lands in usr/lib, as it would on a real root.
            await WriteAsync("lib/through-link", "through the link");
            MakeDirectory("etc");
            await WriteAsync("etc/name", "a file, then a directory");
            Assert.True(writer.Remove("etc/name"));
            File.Delete(Path.Combine(tree, "etc/name"));
            MakeDirectory("etc/name");
            await WriteAsync("etc/name/inside", "inside");
            // A directory replaced by a file takes everything below it away.
            MakeDirectory("opt");
            MakeDirectory("opt/deep");
            await WriteAsync("opt/deep/file", "gone");
            await WriteAsync("opt", "now a file");
            // A hard link outlives the name it was made from.
            await WriteAsync("etc/original", "shared content");
            writer.AddHardLink("etc/second-name", "etc/original");
            Posix.CreateHardLink(Path.Combine(tree, "etc/original"), Path.Combine(tree, "etc/second-name"));
            Assert.True(writer.Remove("etc/original"));
            File.Delete(Path.Combine(tree, "etc/original"));
            Assert.False(writer.Remove("etc/never-there"));
            Assert.Equal(["first", "through-link"], writer.ListDirectory("lib"));
            Assert.Equal(Ext4NodeKind.SymbolicLink, writer.KindOf("lib"));
            Assert.Equal("through the link"u8.ToArray(), writer.ReadFile("lib/through-link"));
            await writer.CompleteAsync();
        }

        foreach (var path in Directory.EnumerateFileSystemEntries(tree, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Append(tree))
        {
            if (Posix.GetStatus(path).Kind != UnixFileKind.SymbolicLink)
            {
                File.SetUnixFileMode(path, Posix.GetStatus(path).Kind == UnixFileKind.Directory ? directory.Mode : file.Mode);
            }
        }

        foreach (var path in Directory.EnumerateFileSystemEntries(tree, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                     .OrderByDescending(path => path.Length).Append(tree))
        {
            Posix.SetTimes(path, Epoch, Epoch);
        }

        await Host.RunAsync("e2fsck", "-fn", image);
        await AssertMountsAsAsync(image, tree, temp.Combine("mnt"), ignoreSymlinkTimes: true);
    }

    [Fact]
    public async Task A_large_sparse_file_an_attribute_block_and_a_posix_acl_survive_the_round_trip()
    {
        Requires.Root();
        Requires.Tool("e2fsck", "e2fsprogs");
        using var temp = new TempDirectory("ext4-writer-large");
        var tree = temp.Combine("tree");
        Directory.CreateDirectory(tree);
        // 600 MiB: more than four 128 MiB extents, so the extent tree needs a leaf block; mostly holes, cheap to write.
        var large = Path.Combine(tree, "large.img");
        await using (var stream = new FileStream(large, FileMode.Create))
        {
            stream.SetLength(600L << 20);
            foreach (var at in new long[] { 0, 129L << 20, 300L << 20, (600L << 20) - 5 })
            {
                stream.Position = at;
                stream.Write(Encoding.ASCII.GetBytes("data!"));
            }
        }

        var attributes = Path.Combine(tree, "attributes");
        await File.WriteAllTextAsync(attributes, "many attributes");
        Posix.SetExtendedAttribute(attributes, "user.large", Enumerable.Range(0, 300).Select(i => (byte)i).ToArray());
        Posix.SetExtendedAttribute(attributes, "user.second", "two"u8);
        var acl = Path.Combine(tree, "acl");
        Directory.CreateDirectory(acl);
        // user::rwx, user:1000:r-x, group::r-x, mask::r-x, other::---, in the kernel's xattr format (version 2).
        byte[] aclValue = [2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 5, 0, 232, 3, 0, 0, 4, 0, 5, 0, 255, 255, 255, 255, 16, 0, 5, 0, 255, 255, 255, 255, 32, 0, 0, 0, 255, 255, 255, 255];
        Posix.SetExtendedAttribute(acl, "system.posix_acl_access", aclValue);
        Posix.SetExtendedAttribute(acl, "system.posix_acl_default", aclValue);
        foreach (var path in new[] { large, attributes, acl, tree })
        {
            Posix.SetTimes(path, Epoch, Epoch);
        }

        var image = temp.Combine("image.img");
        await using (var writer = Ext4ImageWriter.Create(image, new Ext4ImageWriterOptions("LARGE", Guid.NewGuid()) { Timestamp = Epoch }))
        {
            await CopyTreeAsync(tree, writer);
            var summary = await writer.CompleteAsync();
            Assert.True(summary.ImageBytes >= 600L << 20, $"the image is {summary.ImageBytes} bytes");
            Assert.True(summary.FreeBlocks > 0 && summary.FreeInodes > 0);
        }

        // The image file stays sparse where the content has holes.
        Assert.True(Posix.GetStatus(image).AllocatedBytes < 64L << 20, $"{Posix.GetStatus(image).AllocatedBytes} bytes allocated");
        await Host.RunAsync("e2fsck", "-fn", image);
        var stat = (await Host.RunAsync("debugfs", "-R", "stat /large.img", image)).StandardOutput;
        // More than four extents: the inode points at an extent tree block (debugfs names it ETB0).
        Assert.Contains("(ETB0)", stat, StringComparison.Ordinal);
        await AssertMountsAsAsync(image, tree, temp.Combine("mnt"));
    }

    /// <summary>Gives the writer every entry of <paramref name="root"/>, parents first, as an unpack of one layer would.</summary>
    internal static async Task CopyTreeAsync(string root, Ext4ImageWriter writer)
    {
        var links = new Dictionary<ulong, string>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 };
        writer.AddDirectory("/", MetadataOf(root));
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", options).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, path);
            var status = Posix.GetStatus(path);
            var metadata = MetadataOf(path);
            switch (status.Kind)
            {
                case UnixFileKind.Directory:
                    writer.AddDirectory(relative, metadata);
                    break;
                case UnixFileKind.SymbolicLink:
                    writer.AddSymbolicLink(relative, metadata, new FileInfo(path).LinkTarget!);
                    break;
                case UnixFileKind.Regular when status.LinkCount > 1 && links.TryGetValue(status.Inode, out var first):
                    writer.AddHardLink(relative, first);
                    break;
                case UnixFileKind.Regular:
                    links[status.Inode] = relative;
                    await using (var content = File.OpenRead(path))
                    {
                        await writer.AddFileAsync(relative, metadata, content, content.Length);
                    }

                    break;
                case UnixFileKind.CharacterDevice:
                    writer.AddSpecial(relative, Ext4NodeKind.CharacterDevice, metadata, status.DeviceMajor, status.DeviceMinor);
                    break;
                case UnixFileKind.Fifo:
                    writer.AddSpecial(relative, Ext4NodeKind.Fifo, metadata);
                    break;
                default:
                    throw new InvalidOperationException($"{path}: {status.Kind}");
            }
        }
    }

    private static Ext4EntryMetadata MetadataOf(string path)
    {
        var status = Posix.GetStatus(path);
        var attributes = Posix.ListExtendedAttributes(path).ToDictionary(name => name, name => Posix.GetExtendedAttribute(path, name)!, StringComparer.Ordinal);
        return new Ext4EntryMetadata(status.Mode, status.UserId, status.GroupId, status.ModifiedTime) { ExtendedAttributes = attributes };
    }

    internal static async Task AssertMountsAsAsync(string image, string expectedTree, string mountPoint, bool ignoreSymlinkTimes = false)
    {
        Directory.CreateDirectory(mountPoint);
        await Host.RunAsync("mount", "-t", "ext4", "-o", "loop,ro", image, mountPoint);
        try
        {
            // A symbolic link made on the host gets the time it was made; the image's links have the time they were given.
            TreeSnapshot.AssertEqual(TreeSnapshot.Capture(expectedTree), TreeSnapshot.Capture(mountPoint), new TreeCompareOptions
            {
                IgnoredPaths = new HashSet<string>(StringComparer.Ordinal) { "lost+found" },
                IgnoreModifiedTimes = ignoreSymlinkTimes,
            });
        }
        finally
        {
            await Host.RunAsync("umount", mountPoint);
        }
    }
}
