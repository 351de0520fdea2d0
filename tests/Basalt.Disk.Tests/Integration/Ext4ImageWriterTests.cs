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

    internal static async Task AssertMountsAsAsync(string image, string expectedTree, string mountPoint)
    {
        Directory.CreateDirectory(mountPoint);
        await Host.RunAsync("mount", "-t", "ext4", "-o", "loop,ro", image, mountPoint);
        try
        {
            TreeSnapshot.AssertEqual(TreeSnapshot.Capture(expectedTree), TreeSnapshot.Capture(mountPoint), new TreeCompareOptions
            {
                IgnoredPaths = new HashSet<string>(StringComparer.Ordinal) { "lost+found" },
            });
        }
        finally
        {
            await Host.RunAsync("umount", mountPoint);
        }
    }
}
