using Basalt.Config;

namespace Basalt.Boot.Mounting;

/// <summary>A layout with the cloud-config's additions, and what of the config could not be used and why.</summary>
public sealed record ConfiguredLayout(MountLayout Layout, IReadOnlyList<string> Problems);

/// <summary>
/// Puts the cloud-config's layout settings (<c>install.bind_mounts</c>, <c>install.ephemeral_mounts</c>)
/// into a <see cref="MountLayout"/>. Each path is taken on its own: one that cannot be mounted, or clashes
/// with the defaults or an earlier path, is left out with a message, and the rest still apply. The result
/// is always a valid layout, so a bad cloud-config never stops a boot.
/// </summary>
public static class LayoutConfiguration
{
    public const string BindMountsKey = "install.bind_mounts";
    public const string EphemeralMountsKey = "install.ephemeral_mounts";

    /// <param name="layout">The built-in layout.</param>
    /// <param name="settings">The config's additions.</param>
    /// <param name="commandLineMounts">Mount points of <c>rd.cos.mount</c> volumes, which an ephemeral path must not hide.</param>
    public static ConfiguredLayout Apply(MountLayout layout, ConfigLayoutSettings settings, IEnumerable<string>? commandLineMounts = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(settings);
        var mounts = commandLineMounts?.Select(MountLayout.NormalizePath).ToList() ?? [];
        var problems = new List<string>(settings.Problems);
        foreach (var path in settings.BindMounts)
        {
            if (layout.AllPersistentPaths().Contains(MountLayout.NormalizePath(path), StringComparer.Ordinal))
            {
                continue;
            }

            layout = TryAdd(layout, layout with { CustomBindMounts = [.. layout.CustomBindMounts, path] }, BindMountsKey, path, problems);
        }

        foreach (var path in settings.EphemeralMounts)
        {
            if (layout.AllEphemeralPaths(persistent: true).Contains(MountLayout.NormalizePath(path), StringComparer.Ordinal))
            {
                continue;
            }

            if (mounts.FirstOrDefault(mount => MountLayout.IsUnder(mount, path)) is { } hidden)
            {
                problems.Add($"{EphemeralMountsKey}: '{path}' ignored: it would hide the volume mounted at {hidden} (rd.cos.mount)");
                continue;
            }

            layout = TryAdd(layout, layout with { CustomEphemeralMounts = [.. layout.CustomEphemeralMounts, path] }, EphemeralMountsKey, path, problems);
        }

        return new ConfiguredLayout(layout, problems);
    }

    private static MountLayout TryAdd(MountLayout current, MountLayout candidate, string key, string path, List<string> problems)
    {
        try
        {
            return candidate.Validate();
        }
        catch (InvalidMountLayoutException error)
        {
            problems.Add($"{key}: '{path}' ignored: {error.Message}" + (error.Hint is { Length: > 0 } hint ? $" ({hint})" : string.Empty));
            return current;
        }
    }
}
