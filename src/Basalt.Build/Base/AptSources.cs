namespace Basalt.Build.Base;

/// <summary>One apt repository line: where packages come from.</summary>
public sealed record AptSource(Uri Uri, IReadOnlyList<string> Suites, IReadOnlyList<string> Components);

/// <summary>
/// Reads the machine's configured apt sources (one-line <c>sources.list</c> and deb822
/// <c>*.sources</c>), so the default base is built from the mirror the machine already trusts.
/// </summary>
public static class AptSources
{
    public static IReadOnlyList<AptSource> Read(string etcAptDirectory = "/etc/apt")
    {
        var sources = new List<AptSource>();
        var list = Path.Combine(etcAptDirectory, "sources.list");
        if (File.Exists(list))
        {
            sources.AddRange(ParseOneLine(File.ReadAllText(list)));
        }

        var directory = Path.Combine(etcAptDirectory, "sources.list.d");
        if (Directory.Exists(directory))
        {
            foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                if (file.EndsWith(".list", StringComparison.Ordinal))
                {
                    sources.AddRange(ParseOneLine(File.ReadAllText(file)));
                }
                else if (file.EndsWith(".sources", StringComparison.Ordinal))
                {
                    sources.AddRange(ParseDeb822(File.ReadAllText(file)));
                }
            }
        }

        return sources;
    }

    /// <summary>
    /// The mirror that serves the Debian archive itself (not security or updates), or null.
    /// </summary>
    public static Uri? FindDebianMirror(IEnumerable<AptSource> sources, string suite)
    {
        ArgumentNullException.ThrowIfNull(sources);
        return sources
            .Where(source => source.Suites.Contains(suite, StringComparer.Ordinal) && source.Components.Contains("main", StringComparer.Ordinal))
            .Select(source => source.Uri)
            .FirstOrDefault();
    }

    public static IEnumerable<AptSource> ParseOneLine(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var rawLine in text.Split('\n'))
        {
            var line = StripComment(rawLine).Trim();
            var words = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).ToList();
            if (words.Count < 3 || words[0] != "deb")
            {
                continue;
            }

            words.RemoveAt(0);
            if (words[0].StartsWith('['))
            {
                // Options such as [signed-by=…] may span several words up to the closing bracket.
                while (words.Count > 0 && !words[0].EndsWith(']'))
                {
                    words.RemoveAt(0);
                }

                if (words.Count > 0)
                {
                    words.RemoveAt(0);
                }
            }

            if (words.Count >= 2 && Uri.TryCreate(words[0], UriKind.Absolute, out var uri))
            {
                yield return new AptSource(uri, [words[1]], words.Skip(2).ToList());
            }
        }
    }

    public static IEnumerable<AptSource> ParseDeb822(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var stanza in text.Replace("\r", string.Empty).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? current = null;
            foreach (var rawLine in stanza.Split('\n'))
            {
                if (rawLine.StartsWith('#'))
                {
                    continue;
                }

                if ((rawLine.StartsWith(' ') || rawLine.StartsWith('\t')) && current is not null)
                {
                    fields[current] += " " + rawLine.Trim();
                    continue;
                }

                var colon = rawLine.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    current = rawLine[..colon].Trim();
                    fields[current] = rawLine[(colon + 1)..].Trim();
                }
            }

            if (fields.TryGetValue("Enabled", out var enabled) && enabled.Equals("no", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!fields.TryGetValue("Types", out var types) || !Words(types).Contains("deb") ||
                !fields.TryGetValue("URIs", out var uris) || !fields.TryGetValue("Suites", out var suites))
            {
                continue;
            }

            var components = fields.TryGetValue("Components", out var componentText) ? Words(componentText) : [];
            foreach (var uriText in Words(uris))
            {
                if (Uri.TryCreate(uriText, UriKind.Absolute, out var uri))
                {
                    yield return new AptSource(uri, Words(suites), components);
                }
            }
        }
    }

    private static List<string> Words(string text) =>
        text.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).ToList();

    private static string StripComment(string line)
    {
        var hash = line.IndexOf('#', StringComparison.Ordinal);
        return hash < 0 ? line : line[..hash];
    }
}
