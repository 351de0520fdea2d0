using System.Globalization;
using Basalt.Platform;

namespace Basalt.Disk.Devices;

/// <summary>Facts about a block device node, read from its status and from sysfs (<c>/sys/dev/block/MAJ:MIN</c>).</summary>
public static class BlockDevice
{
    public const string DefaultSysfsRoot = "/sys";

    /// <summary>True when <paramref name="path"/> (after symlinks) is a block device node.</summary>
    public static bool IsBlockDevice(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return File.Exists(path) && Posix.TryGetStatus(Path.GetFullPath(ResolveLinks(path)), out var status) && status.Kind == UnixFileKind.BlockDevice;
    }

    /// <summary>The size in bytes of the block device <paramref name="path"/>, from sysfs (its size in 512-byte sectors).</summary>
    public static long SizeBytes(string path, string sysfsRoot = DefaultSysfsRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var status = Posix.GetStatus(ResolveLinks(path));
        if (status.Kind != UnixFileKind.BlockDevice)
        {
            throw new DiskSourceNotFoundException(path, "block device");
        }

        var sizeFile = Path.Combine(sysfsRoot, "dev", "block", string.Create(CultureInfo.InvariantCulture, $"{status.DeviceMajor}:{status.DeviceMinor}"), "size");
        var text = File.ReadAllText(sizeFile).Trim();
        return long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) * 512;
    }

    private static string ResolveLinks(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
    }
}
