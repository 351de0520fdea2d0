namespace Basalt.Oci.Registry.Auth;

/// <summary>One challenge of a <c>WWW-Authenticate</c> header, e.g. <c>Bearer realm="…",service="…",scope="…"</c>.</summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);

    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    public string? Realm => Parameters.GetValueOrDefault("realm");

    public string? Service => Parameters.GetValueOrDefault("service");

    public string? Scope => Parameters.GetValueOrDefault("scope");

    /// <summary>
    /// Parses every challenge of a header value (RFC 7235): schemes followed by comma-separated
    /// <c>key=value</c> or <c>key="quoted, value"</c> parameters; a new scheme starts a new challenge.
    /// </summary>
    public static IReadOnlyList<AuthChallenge> ParseAll(string? header)
    {
        var challenges = new List<AuthChallenge>();
        if (string.IsNullOrWhiteSpace(header))
        {
            return challenges;
        }

        var position = 0;
        while (position < header.Length)
        {
            SkipSeparators(header, ref position);
            var scheme = ReadToken(header, ref position);
            if (scheme.Length == 0)
            {
                // Not a token where a scheme must be: skip the character so a malformed header cannot loop forever.
                position++;
                continue;
            }

            var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (position < header.Length)
            {
                SkipSeparators(header, ref position);
                var start = position;
                var key = ReadToken(header, ref position);
                SkipWhitespace(header, ref position);
                if (key.Length == 0 || position >= header.Length || header[position] != '=')
                {
                    // Either the next scheme or a token68 credential; the parameters of this challenge end here.
                    position = start;
                    break;
                }

                position++;
                SkipWhitespace(header, ref position);
                var value = position < header.Length && header[position] == '"'
                    ? ReadQuoted(header, ref position)
                    : ReadToken(header, ref position);
                parameters[key] = value;
            }

            challenges.Add(new AuthChallenge(scheme, parameters));
            if (position < header.Length && !IsSeparator(header[position]) && !IsTokenChar(header[position]))
            {
                position++;
            }
        }

        return challenges;
    }

    private static bool IsSeparator(char c) => c is ',' or ' ' or '\t';

    private static bool IsTokenChar(char c) => !char.IsWhiteSpace(c) && c is not (',' or '=' or '"');

    private static void SkipSeparators(string text, ref int position)
    {
        while (position < text.Length && IsSeparator(text[position]))
        {
            position++;
        }
    }

    private static void SkipWhitespace(string text, ref int position)
    {
        while (position < text.Length && text[position] is ' ' or '\t')
        {
            position++;
        }
    }

    private static string ReadToken(string text, ref int position)
    {
        var start = position;
        while (position < text.Length && IsTokenChar(text[position]))
        {
            position++;
        }

        return text[start..position];
    }

    private static string ReadQuoted(string text, ref int position)
    {
        position++; // opening quote
        var value = new System.Text.StringBuilder();
        while (position < text.Length && text[position] != '"')
        {
            if (text[position] == '\\' && position + 1 < text.Length)
            {
                position++;
            }

            value.Append(text[position]);
            position++;
        }

        position = Math.Min(position + 1, text.Length); // closing quote
        return value.ToString();
    }
}
