using Basalt.Platform;

namespace Basalt.Disk.Assembly;

/// <summary>Free-space checks made before anything is written.</summary>
public static class DiskSpace
{
    /// <summary>
    /// Throws <see cref="InsufficientSpaceException"/> when the filesystem holding <paramref name="directory"/> has less
    /// than <paramref name="neededBytes"/> free. A directory not made yet (a work directory the build creates) is
    /// measured on the filesystem of its nearest existing parent, where it will be made.
    /// </summary>
    public static void EnsureAvailable(string directory, long neededBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var available = Posix.GetSpace(ExistingAncestor(directory)).AvailableBytes;
        if (available < neededBytes)
        {
            throw new InsufficientSpaceException(directory, neededBytes, available);
        }
    }

    /// <summary>The path itself when it exists, else its nearest existing parent (free space belongs to a filesystem).</summary>
    public static string ExistingAncestor(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var current = Path.GetFullPath(path);
        while (!Directory.Exists(current) && Path.GetDirectoryName(current) is { } parent)
        {
            current = parent;
        }

        return current;
    }
}
