using Basalt.Config.Yaml;

namespace Basalt.Config.Collection;

/// <summary>Config given directly (on the command line of a Basalt command): no header needed, applied after the files.</summary>
public sealed record ConfigInput(string Text, string Source);

/// <summary>Where to look for cloud-config and how strictly to take it.</summary>
public sealed record ConfigCollectorOptions
{
    /// <summary>Kairos's scan directories, in merge order.</summary>
    public static IReadOnlyList<string> DefaultDirectories { get; } =
        ["/run/initramfs/live", "/etc/kairos", "/usr/local/cloud-config", "/oem"];

    /// <summary>Root every directory is taken relative to (a temp dir in tests, /sysroot in the initramfs).</summary>
    public string Root { get; init; } = "/";

    public IReadOnlyList<string> Directories { get; init; } = DefaultDirectories;

    /// <summary>Config given by the caller, merged after the files.</summary>
    public IReadOnlyList<ConfigInput> Inputs { get; init; } = [];

    /// <summary>The kernel command line to merge last; null for none.</summary>
    public string? KernelCommandLine { get; init; }

    /// <summary>Warnings count as errors; a file with any finding is not applied.</summary>
    public bool Strict { get; init; }

    /// <summary>Files (and fetched configs) larger than this are skipped with a warning.</summary>
    public long MaxFileSize { get; init; } = 1024 * 1024;

    /// <summary>Most <c>config_url</c> hops followed from one source.</summary>
    public int MaxConfigUrlDepth { get; init; } = 5;

    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts per URL (Kairos tries 3 times, a second apart).</summary>
    public int FetchAttempts { get; init; } = 3;

    public TimeSpan FetchRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public YamlLoadLimits Limits { get; init; } = YamlLoadLimits.Default;
}
