using System.Globalization;
using Basalt.Platform;

namespace Basalt.Agent.Upgrade;

/// <summary>The facts about the node a preflight reads: free space of a mounted filesystem and available memory.</summary>
public interface INodeProbe
{
    FileSystemSpace GetSpace(string path);

    /// <summary>Memory the kernel could give a new workload without swapping (MemAvailable).</summary>
    long AvailableMemoryBytes();
}

/// <summary>The running host: statvfs and <c>/proc/meminfo</c>.</summary>
public sealed class HostNodeProbe : INodeProbe
{
    private const string MemInfo = "/proc/meminfo";

    public FileSystemSpace GetSpace(string path) => Posix.GetSpace(path);

    public long AvailableMemoryBytes() => ParseMemAvailable(File.ReadAllText(MemInfo));

    /// <summary>The <c>MemAvailable:</c> line of a meminfo text, in bytes (0 when absent).</summary>
    public static long ParseMemAvailable(string memInfo)
    {
        ArgumentNullException.ThrowIfNull(memInfo);
        foreach (var line in memInfo.Split('\n'))
        {
            if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = line["MemAvailable:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 1 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
            {
                return kib * 1024;
            }
        }

        return 0;
    }
}
