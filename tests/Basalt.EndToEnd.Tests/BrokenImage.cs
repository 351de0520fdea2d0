using Basalt.Build.Artifacts;
using Basalt.Build.Init;
using Basalt.Boot.Mounting;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// A root image GRUB and the mounter accept (label COS_ACTIVE, the OS's kernel and initramfs, every mount point)
/// whose init exits at once: the kernel panics ("Attempted to kill init") and, with <c>panic=5</c>, reboots.
/// It stands for an upgrade that does not come up, without the cost of a whole second OS image.
/// </summary>
public static class BrokenImage
{
    public static async Task<string> BuildAsync(string osTree, string workDirectory, IToolRunner runner)
    {
        var tree = Path.Combine(workDirectory, "tree");
        Directory.CreateDirectory(tree);
        foreach (var directory in new[] { "etc", "var", "srv", "proc", "sys", "dev", "run", "tmp", "usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "boot", "etc/cos" }
                     .Concat(InitFiles.MountPoints(MountLayout.Default).Select(path => path.TrimStart('/'))))
        {
            Directory.CreateDirectory(Path.Combine(tree, directory));
        }

        foreach (var (link, target) in new[] { ("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin") })
        {
            File.CreateSymbolicLink(Path.Combine(tree, link), target);
        }

        // /sbin/init is /bin/false with what it needs to run: it runs, and exits 1.
        Copy(osTree, tree, "/boot/vmlinuz");
        Copy(osTree, tree, "/boot/initrd");
        Copy(osTree, tree, "/etc/cos/bootargs.cfg");
        Copy(osTree, tree, "/usr/bin/false");
        Copy(osTree, tree, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        Copy(osTree, tree, "/lib64/ld-linux-x86-64.so.2");
        File.CreateSymbolicLink(Path.Combine(tree, "usr/sbin/init"), "../bin/false");

        var image = Path.Combine(workDirectory, "broken.img");
        await new Ext4ImageBuilder(runner).BuildAsync(image, new Ext4ImageSpec(KairosLayout.ActiveImageLabel, Guid.NewGuid(), 256L * 1024 * 1024) { SourceDirectory = tree });
        return image;
    }

    /// <summary>Copies a file of the OS tree, links resolved inside the tree, to the same path in <paramref name="tree"/>.</summary>
    private static void Copy(string osTree, string tree, string path)
    {
        var source = RootedFile.Resolve(osTree, path) ?? throw new InvalidOperationException($"the OS tree has no {path}");
        var target = Path.Combine(tree, path.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(source, target, overwrite: true);
        File.SetUnixFileMode(target, File.GetUnixFileMode(source));
    }
}
