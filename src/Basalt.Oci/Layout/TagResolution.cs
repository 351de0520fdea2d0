namespace Basalt.Oci.Layout;

/// <summary>Picks a manifest by tag, the same way for every kind of layout.</summary>
internal static class TagResolution
{
    public static LayoutManifest Resolve(string location, IReadOnlyList<LayoutManifest> manifests, string? tag)
    {
        var tags = manifests.Where(m => m.Tag is not null).Select(m => m.Tag!).Distinct(StringComparer.Ordinal).ToList();
        if (tag is null)
        {
            if (manifests.Count == 1)
            {
                return manifests[0];
            }

            var latest = manifests.Where(m => m.Tag is "latest").ToList();
            if (latest.Count == 1)
            {
                return latest[0];
            }

            throw new LayoutTagNotFoundException(location, null, tags);
        }

        var matches = manifests.Where(m => Matches(m.Tag, tag)).ToList();
        return matches.Count switch
        {
            0 => throw new LayoutTagNotFoundException(location, tag, tags),
            1 => matches[0],
            _ => matches.Select(m => m.Descriptor.Digest).Distinct().Count() == 1
                ? matches[0]
                : throw new MalformedLayoutException(location, $"tag '{tag}' names {matches.Count} different manifests"),
        };
    }

    /// <summary>A tag matches itself, and a docker-style <c>name:tag</c> matches by its tag part too.</summary>
    private static bool Matches(string? candidate, string tag)
    {
        if (candidate is null)
        {
            return false;
        }

        if (candidate == tag)
        {
            return true;
        }

        var slash = candidate.LastIndexOf('/');
        var colon = candidate.LastIndexOf(':');
        return colon > slash && !tag.Contains(':', StringComparison.Ordinal) && candidate[(colon + 1)..] == tag;
    }
}
