using Basalt.Config.Model;

namespace Basalt.Config;

/// <summary>
/// What the cloud-config says about the runtime layout, as plain values the boot mounter's layout takes
/// (<c>MountLayout.CustomBindMounts</c>, <c>MountLayout.CustomEphemeralMounts</c>). Kairos has no other
/// persistent-path keys in cloud-config: its defaults live in the layout, these are the user's additions.
/// </summary>
public sealed record ConfigLayoutSettings(IReadOnlyList<string> BindMounts, IReadOnlyList<string> EphemeralMounts, IReadOnlyList<string> Problems)
{
    public static ConfigLayoutSettings Empty { get; } = new([], [], []);

    /// <summary>Takes <c>install.bind_mounts</c> and <c>install.ephemeral_mounts</c>; paths are made canonical, bad ones reported and left out.</summary>
    public static ConfigLayoutSettings From(CloudConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var problems = new List<string>();
        var bind = Clean(config.Install?.BindMounts, "install.bind_mounts", problems);
        var ephemeral = Clean(config.Install?.EphemeralMounts, "install.ephemeral_mounts", problems);
        foreach (var both in bind.Intersect(ephemeral, StringComparer.Ordinal).ToList())
        {
            problems.Add($"{both} is in both install.bind_mounts and install.ephemeral_mounts; kept persistent only");
            ephemeral.Remove(both);
        }

        return new ConfigLayoutSettings(bind, ephemeral, problems);
    }

    private static List<string> Clean(IReadOnlyList<string>? paths, string key, List<string> problems)
    {
        var result = new List<string>();
        foreach (var raw in paths ?? [])
        {
            var path = raw.Trim();
            if (!path.StartsWith('/') || path.Split('/').Any(part => part is "." or ".."))
            {
                problems.Add($"{key}: '{raw}' is not an absolute path without . or ..; ignored");
                continue;
            }

            var canonical = "/" + string.Join('/', path.Split('/', StringSplitOptions.RemoveEmptyEntries));
            if (canonical == "/")
            {
                problems.Add($"{key}: '/' cannot be mounted over; ignored");
                continue;
            }

            if (!result.Contains(canonical, StringComparer.Ordinal))
            {
                result.Add(canonical);
            }
        }

        return result;
    }
}
