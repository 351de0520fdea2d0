using Basalt.Platform;

namespace Basalt.Disk.Assembly;

/// <summary>Free-space checks made before anything is written.</summary>
public static class DiskSpace
{
    /// <summary>Throws <see cref="InsufficientSpaceException"/> when the filesystem holding <paramref name="directory"/> has less than <paramref name="neededBytes"/> free.</summary>
    public static void EnsureAvailable(string directory, long neededBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var available = Posix.GetSpace(directory).AvailableBytes;
        if (available < neededBytes)
        {
            throw new InsufficientSpaceException(directory, neededBytes, available);
        }
    }
}
