using Basalt.Config;
using Basalt.Config.Collection;
using Basalt.Config.Model;

namespace Basalt.Boot.Mounting;

/// <summary>
/// Collects and merges the cloud-config at boot, from Kairos's scan directories under the new root
/// (<c>/etc/kairos</c> of the image, <c>/usr/local/cloud-config</c> on COS_PERSISTENT, <c>/oem</c> on
/// COS_OEM; sources are named as the new root sees them) and the kernel command line, and turns it into
/// layout settings. A file that is invalid is reported and left out; nothing here fails the boot.
/// </summary>
public sealed class CloudConfigReader : IBootConfigReader
{
    private static readonly string[] QuietSkipReasons = ["no #cloud-config header", "not a .yaml or .yml file"];

    private readonly ConfigCollector _collector;

    public CloudConfigReader(ConfigCollector? collector = null)
    {
        _collector = collector ?? new ConfigCollector();
    }

    /// <summary>
    /// How the initramfs collects. A disk or ISO boot has no network yet, so a <c>config_url</c> is not fetched there (it
    /// applies once the system runs). A netboot (<c>basalt.live.url=</c>) brought the network up to download its root,
    /// so it follows <c>config_url</c> as the running system does: the served config's <c>hostname</c> and
    /// <c>rootfs</c>/<c>initramfs</c> stages apply, as they would from /oem on a disk.
    /// </summary>
    public static ConfigCollectorOptions Options(string root, string commandLine) => new()
    {
        Root = root,
        KernelCommandLine = commandLine,
        MaxConfigUrlDepth = HasNetwork(commandLine) ? new ConfigCollectorOptions().MaxConfigUrlDepth : 0,
    };

    /// <summary>Whether the initramfs brought the network up for this command line (a netboot downloads its root).</summary>
    public static bool HasNetwork(string commandLine) =>
        !string.IsNullOrEmpty(commandLine) && CommandLine.KernelCommandLine.Parse(commandLine).Has(CommandLine.BootKeys.BasaltLiveUrl);

    public async Task<ConfigLayoutSettings> ReadLayoutAsync(string root, string commandLine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        MergedConfig merged;
        try
        {
            merged = await _collector.CollectAsync(Options(root, commandLine ?? string.Empty), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // Whatever went wrong, the boot goes on with the built-in layout.
            return new ConfigLayoutSettings([], [], [$"the cloud-config could not be read ({error.Message}); the built-in layout is used"]);
        }

        return From(merged);
    }

    /// <summary>The layout settings of a merged config, with what went wrong while collecting it.</summary>
    public static ConfigLayoutSettings From(MergedConfig merged)
    {
        ArgumentNullException.ThrowIfNull(merged);
        var problems = new List<string>();
        foreach (var issue in merged.Issues.Where(i => i.Severity == ConfigIssueSeverity.Error))
        {
            problems.Add(issue.ToString());
        }

        foreach (var skipped in merged.Skipped.Where(s => !QuietSkipReasons.Contains(s.Reason, StringComparer.Ordinal)))
        {
            problems.Add($"{skipped.Source}: {skipped.Reason}; the boot goes on without it");
        }

        var settings = ConfigLayoutSettings.From(merged.Config);
        return settings with { Problems = [.. problems, .. settings.Problems] };
    }
}
