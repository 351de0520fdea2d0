namespace Basalt.Build.Init;

/// <summary>Families of distributions that share a package manager.</summary>
public enum DistroFamily
{
    Debian,
    Fedora,
    Suse,
    Alpine,
}

/// <summary>The distribution of a root filesystem, as read from its os-release.</summary>
public sealed record Distro(string Id, string? VersionId, string PrettyName, DistroFamily Family)
{
    private static readonly IReadOnlyDictionary<string, DistroFamily> KnownIds = new Dictionary<string, DistroFamily>(StringComparer.Ordinal)
    {
        ["debian"] = DistroFamily.Debian,
        ["ubuntu"] = DistroFamily.Debian,
        ["fedora"] = DistroFamily.Fedora,
        ["rhel"] = DistroFamily.Fedora,
        ["centos"] = DistroFamily.Fedora,
        ["rocky"] = DistroFamily.Fedora,
        ["almalinux"] = DistroFamily.Fedora,
        ["alma"] = DistroFamily.Fedora,
        ["opensuse"] = DistroFamily.Suse,
        ["opensuse-leap"] = DistroFamily.Suse,
        ["opensuse-tumbleweed"] = DistroFamily.Suse,
        ["sles"] = DistroFamily.Suse,
        ["suse"] = DistroFamily.Suse,
        ["alpine"] = DistroFamily.Alpine,
    };

    /// <summary>Tells the family from <c>ID</c>, then from each word of <c>ID_LIKE</c> (derivatives such as Mint or Rocky).</summary>
    public static Distro Detect(OsRelease osRelease)
    {
        ArgumentNullException.ThrowIfNull(osRelease);
        var id = osRelease.Id?.Trim().ToLowerInvariant() ?? string.Empty;
        var candidates = new[] { id }.Concat((osRelease.IdLike ?? string.Empty).ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));
        foreach (var candidate in candidates)
        {
            if (KnownIds.TryGetValue(candidate, out var family))
            {
                return new Distro(id, osRelease.VersionId, osRelease.PrettyName ?? id, family);
            }
        }

        throw new UnsupportedDistroException(id.Length == 0 ? "(no ID)" : id, osRelease.IdLike);
    }

    /// <summary>Reads <c>/etc/os-release</c>, falling back to <c>/usr/lib/os-release</c> as the spec says.</summary>
    public static OsRelease ReadOsRelease(string root)
    {
        foreach (var candidate in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            var path = RootedPath.Resolve(root, candidate);
            if (File.Exists(path))
            {
                return OsRelease.Parse(File.ReadAllText(path));
            }
        }

        throw new OsReleaseMissingException(root);
    }
}
