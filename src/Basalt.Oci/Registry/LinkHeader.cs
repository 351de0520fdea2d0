namespace Basalt.Oci.Registry;

/// <summary>RFC 8288 <c>Link</c> headers as registries use them for pagination.</summary>
public static class LinkHeader
{
    /// <summary>The target of the <c>rel="next"</c> link, resolved against <paramref name="requestUri"/>; null when there is none.</summary>
    public static Uri? Next(IEnumerable<string> headerValues, Uri requestUri)
    {
        ArgumentNullException.ThrowIfNull(headerValues);
        foreach (var header in headerValues)
        {
            foreach (var link in SplitLinks(header))
            {
                var open = link.IndexOf('<', StringComparison.Ordinal);
                var close = link.IndexOf('>', StringComparison.Ordinal);
                if (open < 0 || close < open)
                {
                    continue;
                }

                var parameters = link[(close + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var isNext = parameters.Any(p =>
                {
                    var equals = p.IndexOf('=', StringComparison.Ordinal);
                    return equals > 0
                        && p[..equals].Trim().Equals("rel", StringComparison.OrdinalIgnoreCase)
                        && p[(equals + 1)..].Trim().Trim('"').Split(' ').Contains("next", StringComparer.OrdinalIgnoreCase);
                });
                if (isNext)
                {
                    return new Uri(requestUri, link[(open + 1)..close]);
                }
            }
        }

        return null;
    }

    private static IEnumerable<string> SplitLinks(string header)
    {
        // Commas separate links, but may also appear inside <…> and quoted parameters.
        var start = 0;
        var inAngle = false;
        var inQuote = false;
        for (var i = 0; i < header.Length; i++)
        {
            switch (header[i])
            {
                case '<' when !inQuote: inAngle = true; break;
                case '>' when !inQuote: inAngle = false; break;
                case '"' when !inAngle: inQuote = !inQuote; break;
                case ',' when !inAngle && !inQuote:
                    yield return header[start..i];
                    start = i + 1;
                    break;
            }
        }

        yield return header[start..];
    }
}
