using System.Globalization;
using Basalt.Platform;

namespace Basalt.Agent.Install;

/// <summary>A whole disk as sysfs describes it.</summary>
/// <param name="Name">Kernel name (vda, sda, nvme0n1, loop3).</param>
/// <param name="DevicePath">The node under /dev.</param>
public sealed record DiskInfo(string Name, string DevicePath, long SizeBytes, bool Removable, bool ReadOnly, string? Model);

/// <summary>
/// The whole disks of the machine, read from <c>/sys/block</c> (the root is injectable so tests give a tree of their
/// own), and the choice <c>install.device: auto</c> makes: the largest non-removable, writable disk that is not a
/// loop, RAM, optical, floppy or device-mapper device.
/// </summary>
public sealed class DiskInventory
{
    private static readonly string[] VirtualPrefixes = ["loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd"];

    public DiskInventory(string sysfsRoot = "/sys", string deviceDirectory = "/dev")
    {
        ArgumentException.ThrowIfNullOrEmpty(sysfsRoot);
        ArgumentException.ThrowIfNullOrEmpty(deviceDirectory);
        SysfsRoot = sysfsRoot;
        DeviceDirectory = deviceDirectory;
    }

    public string SysfsRoot { get; }

    public string DeviceDirectory { get; }

    public IReadOnlyList<DiskInfo> ListDisks()
    {
        var block = Path.Combine(SysfsRoot, "block");
        if (!Directory.Exists(block))
        {
            return [];
        }

        return Directory.EnumerateFileSystemEntries(block)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .Select(Read)
            .OfType<DiskInfo>()
            .ToList();
    }

    /// <summary>The whole disk behind <paramref name="devicePath"/> (symlinks such as /dev/disk/by-id are followed), or null.</summary>
    public DiskInfo? Find(string devicePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(devicePath);
        var name = Path.GetFileName(ResolveLinks(devicePath));
        return string.IsNullOrEmpty(name) ? null : Read(name) is { } disk ? disk with { DevicePath = devicePath } : null;
    }

    /// <summary>True when <paramref name="name"/> is a partition of some disk (it has a <c>partition</c> file in sysfs).</summary>
    public bool IsPartition(string devicePath) =>
        File.Exists(Path.Combine(SysfsRoot, "class", "block", Path.GetFileName(ResolveLinks(devicePath)), "partition"));

    /// <summary>The disk <c>install.device: auto</c> picks, or null with the disks looked at.</summary>
    public static DiskInfo? ChooseAutomatically(IReadOnlyList<DiskInfo> disks) =>
        disks.Where(IsInstallCandidate)
            .OrderByDescending(disk => disk.SizeBytes)
            .ThenBy(disk => disk.Name, StringComparer.Ordinal)
            .FirstOrDefault();

    public static bool IsInstallCandidate(DiskInfo disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        return !disk.Removable && !disk.ReadOnly && disk.SizeBytes > 0 &&
               !VirtualPrefixes.Any(prefix => disk.Name.StartsWith(prefix, StringComparison.Ordinal));
    }

    private DiskInfo? Read(string name)
    {
        var directory = Path.Combine(SysfsRoot, "block", name);
        var sizeText = ReadText(Path.Combine(directory, "size"));
        if (sizeText is null || !long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var sectors))
        {
            return null;
        }

        return new DiskInfo(
            name,
            Path.Combine(DeviceDirectory, name),
            sectors * 512,
            ReadText(Path.Combine(directory, "removable")) == "1",
            ReadText(Path.Combine(directory, "ro")) == "1",
            ReadText(Path.Combine(directory, "device", "model")));
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string ResolveLinks(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
    }
}

/// <summary>A mounted filesystem on a block device, from <c>/proc/self/mountinfo</c>.</summary>
public sealed record MountedDevice(uint Major, uint Minor, string MountPoint, string Source);

/// <summary>
/// Which disks hold mounted filesystems, the running system first of all: each mount's device number from
/// <c>/proc/self/mountinfo</c> is mapped through <c>/sys/dev/block/MAJ:MIN</c> to its whole disk; a loop device is
/// followed to the disk holding its backing file. Both files are injectable for tests.
/// </summary>
public sealed class RunningSystemProbe
{
    private const int MaxLoopDepth = 8;

    public RunningSystemProbe(string mountInfoPath = "/proc/self/mountinfo", string sysfsRoot = "/sys")
    {
        ArgumentException.ThrowIfNullOrEmpty(mountInfoPath);
        ArgumentException.ThrowIfNullOrEmpty(sysfsRoot);
        MountInfoPath = mountInfoPath;
        SysfsRoot = sysfsRoot;
    }

    public string MountInfoPath { get; }

    public string SysfsRoot { get; }

    /// <summary>Mounts of block devices (device number with a non-zero major).</summary>
    public IReadOnlyList<MountedDevice> ReadMounts() => ParseMountInfo(File.ReadAllText(MountInfoPath));

    public static IReadOnlyList<MountedDevice> ParseMountInfo(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var mounts = new List<MountedDevice>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || separator < 0 || separator + 2 >= fields.Length)
            {
                continue;
            }

            var numbers = fields[2].Split(':');
            if (numbers.Length != 2 ||
                !uint.TryParse(numbers[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) ||
                !uint.TryParse(numbers[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor) ||
                major == 0)
            {
                continue;
            }

            mounts.Add(new MountedDevice(major, minor, Unescape(fields[4]), Unescape(fields[separator + 2])));
        }

        return mounts;
    }

    /// <summary>The mount points whose filesystems live on the whole disk named <paramref name="diskName"/> (vda, loop3).</summary>
    public IReadOnlyList<string> MountPointsOn(string diskName)
    {
        ArgumentException.ThrowIfNullOrEmpty(diskName);
        return ReadMounts()
            .Where(mount => DisksOf(mount.Major, mount.Minor, 0).Contains(diskName, StringComparer.Ordinal))
            .Select(mount => mount.MountPoint)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The whole disks a device number depends on: its own disk, and for a loop device the disk of its backing file too.</summary>
    private List<string> DisksOf(uint major, uint minor, int depth)
    {
        var disks = new List<string>();
        var node = Path.Combine(SysfsRoot, "dev", "block", string.Create(CultureInfo.InvariantCulture, $"{major}:{minor}"));
        if (!Directory.Exists(node))
        {
            return disks;
        }

        var resolved = new DirectoryInfo(node).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(node);
        var name = Path.GetFileName(resolved);
        var disk = File.Exists(Path.Combine(resolved, "partition")) ? Path.GetFileName(Path.GetDirectoryName(resolved)) ?? name : name;
        disks.Add(disk);

        var backing = Path.Combine(SysfsRoot, "block", disk, "loop", "backing_file");
        if (depth < MaxLoopDepth && File.Exists(backing))
        {
            var file = File.ReadAllText(backing).Trim();
            if (Posix.TryGetStatus(file, out var status))
            {
                var device = status.Device;
                disks.AddRange(DisksOf((uint)(device >> 32), (uint)(device & 0xFFFFFFFF), depth + 1));
            }
        }

        return disks;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as octal.</summary>
    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal)
            .Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal)
            .Replace("\\134", "\\", StringComparison.Ordinal);
}
