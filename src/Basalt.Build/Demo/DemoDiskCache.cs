using System.Globalization;
using Basalt.Disk.Assembly;
using Basalt.Platform;

namespace Basalt.Build.Demo;

/// <summary>
/// The demo's built disk, kept beside the OS tree it was made from, so a second run copies it (only its data, a few
/// seconds) instead of building it again (minutes). Each run boots its own copy: the cached disk is never booted.
/// An entry is trusted only with its key, written after the disk is whole; a disk built for another image, size or
/// basalt is built again.
/// </summary>
public sealed class DemoDiskCache
{
    public const string DiskName = "node.raw";
    private const string KeyName = "node.raw.key";

    private readonly string _directory;

    public DemoDiskCache(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Path.GetFullPath(directory);
    }

    public string DiskPath => Path.Combine(_directory, DiskName);

    private string KeyPath => Path.Combine(_directory, KeyName);

    /// <summary>What the disk is made from: the image it holds, its size, and the stamp of the tree (the basalt that made it and the password).</summary>
    public static string Key(string imageDigest, long diskBytes, string treeStamp)
    {
        ArgumentException.ThrowIfNullOrEmpty(imageDigest);
        ArgumentException.ThrowIfNullOrEmpty(treeStamp);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(diskBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{imageDigest} {diskBytes} {treeStamp.Trim()}");
    }

    /// <summary>Whether a whole disk for <paramref name="key"/> is cached.</summary>
    public bool Holds(string key) =>
        File.Exists(DiskPath) && File.Exists(KeyPath) && File.ReadAllText(KeyPath).Trim() == key;

    /// <summary>
    /// Copies the disk for <paramref name="key"/> to <paramref name="destination"/> (replacing it), after building it into
    /// the cache with <paramref name="build"/> (given the path to write) when it is not there. Returns whether the cached
    /// disk was reused. A build that fails or writes nothing leaves no entry.
    /// </summary>
    public async Task<bool> CopyToAsync(string key, string destination, Func<string, CancellationToken, Task> build, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentException.ThrowIfNullOrEmpty(destination);
        ArgumentNullException.ThrowIfNull(build);
        Directory.CreateDirectory(_directory);
        var reused = Holds(key);
        if (!reused)
        {
            // The key goes first: a disk without its key is never trusted.
            File.Delete(KeyPath);
            File.Delete(DiskPath);
            try
            {
                await build(DiskPath, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                File.Delete(DiskPath);
                throw;
            }

            if (!File.Exists(DiskPath))
            {
                throw new DemoCheckFailedException("the disk build", $"it wrote no {DiskPath}");
            }

            Posix.Sync(DiskPath);
            AtomicFile.WriteAllText(KeyPath, key + "\n");
        }

        File.Delete(destination);
        SparseCopy.CopyFile(DiskPath, destination, cancellationToken);
        return reused;
    }
}
