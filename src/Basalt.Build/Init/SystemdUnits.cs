namespace Basalt.Build.Init;

/// <summary>
/// Enables systemd units in a root filesystem the way <c>systemctl enable</c> does (links in the
/// targets' .wants/.requires directories under /etc/systemd/system, aliases, Also=), without running
/// systemctl: no host tool and no version mismatch between the host's systemd and the image's.
/// </summary>
public static class SystemdUnits
{
    private static readonly string[] UnitDirectories = ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];

    /// <summary>The in-root path of <paramref name="unit"/>'s file, or null when the image has no such unit.</summary>
    public static string? Find(string root, string unit)
    {
        foreach (var directory in UnitDirectories)
        {
            var candidate = $"{directory}/{unit}";
            var host = RootedPath.Resolve(root, candidate);
            if (File.Exists(host))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The [Install] section of a unit file: WantedBy, RequiredBy, Alias, Also.</summary>
    public static InstallSection ParseInstall(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var wantedBy = new List<string>();
        var requiredBy = new List<string>();
        var alias = new List<string>();
        var also = new List<string>();
        var inInstall = false;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                inInstall = line == "[Install]";
                continue;
            }

            if (!inInstall || line.StartsWith('#') || line.StartsWith(';'))
            {
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var values = line[(equals + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (line[..equals].Trim())
            {
                case "WantedBy": wantedBy.AddRange(values); break;
                case "RequiredBy": requiredBy.AddRange(values); break;
                case "Alias": alias.AddRange(values); break;
                case "Also": also.AddRange(values); break;
                default: break;
            }
        }

        return new InstallSection(wantedBy, requiredBy, alias, also);
    }

    /// <summary>
    /// The links (in-root link path → in-root unit file) that enable <paramref name="unit"/> and its Also= units.
    /// A unit the image does not have yields no links (resolved is optional, for instance).
    /// </summary>
    public static IReadOnlyList<UnitLink> LinksFor(string root, string unit)
    {
        var links = new List<UnitLink>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>([unit]);
        while (pending.Count > 0)
        {
            var name = pending.Dequeue();
            if (!seen.Add(name) || Find(root, name) is not { } file)
            {
                continue;
            }

            var install = ParseInstall(File.ReadAllText(RootedPath.Resolve(root, file)));
            foreach (var target in install.WantedBy)
            {
                links.Add(new UnitLink($"/etc/systemd/system/{target}.wants/{name}", file));
            }

            foreach (var target in install.RequiredBy)
            {
                links.Add(new UnitLink($"/etc/systemd/system/{target}.requires/{name}", file));
            }

            foreach (var alias in install.Alias)
            {
                links.Add(new UnitLink($"/etc/systemd/system/{alias}", file));
            }

            foreach (var other in install.Also)
            {
                pending.Enqueue(other);
            }
        }

        return links;
    }
}

public sealed record InstallSection(IReadOnlyList<string> WantedBy, IReadOnlyList<string> RequiredBy, IReadOnlyList<string> Alias, IReadOnlyList<string> Also);

public sealed record UnitLink(string LinkPath, string Target);
