using System.Globalization;
using Basalt.Agent.Install;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Install;

/// <summary>A sysfs tree, a /dev directory of plain files and a mountinfo file, so install planning runs without real disks.</summary>
internal sealed class FakeMachine : IDisposable
{
    public const long GiB = 1024L * 1024 * 1024;

    private readonly TempDirectory _temp = new("install-machine");
    private readonly List<string> _mounts = [];
    private uint _nextMajor = 252;

    public FakeMachine()
    {
        Directory.CreateDirectory(Sys);
        Directory.CreateDirectory(Dev);
        File.WriteAllText(MountInfo, string.Empty);
    }

    public string Root => _temp.Path;

    public string Sys => _temp.Combine("sys");

    public string Dev => _temp.Combine("dev");

    public string MountInfo => _temp.Combine("mountinfo");

    public DiskInventory Inventory => new(Sys, Dev);

    public RunningSystemProbe Probe => new(MountInfo, Sys);

    public InstallPlanner Planner => new(Inventory, Probe);

    /// <summary>Adds a whole disk with one partition; returns its device path.</summary>
    public string AddDisk(string name, long bytes, bool removable = false, bool readOnly = false)
    {
        var block = Path.Combine(Sys, "block", name);
        Directory.CreateDirectory(Path.Combine(block, "device"));
        File.WriteAllText(Path.Combine(block, "size"), (bytes / 512).ToString(CultureInfo.InvariantCulture) + "\n");
        File.WriteAllText(Path.Combine(block, "removable"), removable ? "1\n" : "0\n");
        File.WriteAllText(Path.Combine(block, "ro"), readOnly ? "1\n" : "0\n");
        File.WriteAllText(Path.Combine(block, "device", "model"), "FAKE DISK\n");
        var major = _nextMajor++;
        Link(Path.Combine(block), major, 0);

        var partition = Path.Combine(block, name + "1");
        Directory.CreateDirectory(partition);
        File.WriteAllText(Path.Combine(partition, "partition"), "1\n");
        File.WriteAllText(Path.Combine(partition, "size"), "2048\n");
        Link(partition, major, 1);
        Directory.CreateDirectory(Path.Combine(Sys, "class", "block"));
        File.CreateSymbolicLink(Path.Combine(Sys, "class", "block", name + "1"), partition);

        File.WriteAllText(Path.Combine(Dev, name), string.Empty);
        File.WriteAllText(Path.Combine(Dev, name + "1"), string.Empty);
        return Path.Combine(Dev, name);
    }

    /// <summary>Mounts the first partition of <paramref name="disk"/> at <paramref name="mountPoint"/> in the fake mountinfo.</summary>
    public void Mount(string disk, string mountPoint)
    {
        var link = Directory.EnumerateFileSystemEntries(Path.Combine(Sys, "dev", "block"))
            .Single(entry => new DirectoryInfo(entry).LinkTarget!.EndsWith("/" + disk + "1", StringComparison.Ordinal));
        var numbers = Path.GetFileName(link);
        _mounts.Add($"{30 + _mounts.Count} 1 {numbers} / {mountPoint.Replace(" ", "\\040", StringComparison.Ordinal)} rw,relatime shared:1 - ext4 /dev/{disk}1 rw");
        File.WriteAllText(MountInfo, string.Join('\n', _mounts) + "\n");
    }

    public void Dispose() => _temp.Dispose();

    private void Link(string target, uint major, uint minor)
    {
        var directory = Path.Combine(Sys, "dev", "block");
        Directory.CreateDirectory(directory);
        File.CreateSymbolicLink(Path.Combine(directory, $"{major}:{minor}"), target);
    }
}

/// <summary>A tiny bootable OS tree: kernel and initramfs dummies and GRUB's module index, enough to plan a disk.</summary>
internal static class TinyTree
{
    public static string Create(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "lib", "grub", "x86_64-efi"));
        File.WriteAllText(Path.Combine(root, "boot", "vmlinuz"), "not a kernel\n");
        File.WriteAllText(Path.Combine(root, "boot", "initrd"), "not an initramfs\n");
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), "NAME=\"Basalt tiny\"\nID=basalt-tiny\n");
        File.WriteAllText(Path.Combine(root, "usr", "lib", "grub", "x86_64-efi", "moddep.lst"), string.Empty);
        return root;
    }
}
