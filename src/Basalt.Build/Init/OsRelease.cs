using System.Text;

namespace Basalt.Build.Init;

/// <summary>
/// The <c>os-release</c> file (freedesktop format): ordered KEY=value lines, comments kept, so a
/// merge writes back the distribution's own keys untouched.
/// </summary>
public sealed class OsRelease
{
    private readonly List<string> _lines;

    private OsRelease(List<string> lines)
    {
        _lines = lines;
    }

    public string? Id => Get("ID");

    public string? IdLike => Get("ID_LIKE");

    public string? VersionId => Get("VERSION_ID");

    public string? PrettyName => Get("PRETTY_NAME");

    public static OsRelease Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r", string.Empty, StringComparison.Ordinal).Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        return new OsRelease(lines);
    }

    /// <summary>Every key with its unquoted value, in file order (a later duplicate wins).</summary>
    public IReadOnlyDictionary<string, string> Values
    {
        get
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in _lines)
            {
                if (TrySplit(line, out var key, out var value))
                {
                    values[key] = value;
                }
            }

            return values;
        }
    }

    public string? Get(string key) => Values.TryGetValue(key, out var value) ? value : null;

    /// <summary>A copy with <paramref name="changes"/> set: existing keys are replaced in place, new ones appended.</summary>
    public OsRelease With(IEnumerable<KeyValuePair<string, string>> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var lines = new List<string>(_lines);
        foreach (var (key, value) in changes)
        {
            var line = $"{key}={Quote(value)}";
            var index = lines.FindLastIndex(l => TrySplit(l, out var k, out _) && k == key);
            if (index >= 0)
            {
                lines[index] = line;
            }
            else
            {
                lines.Add(line);
            }
        }

        return new OsRelease(lines);
    }

    public override string ToString()
    {
        var builder = new StringBuilder();
        foreach (var line in _lines)
        {
            builder.Append(line).Append('\n');
        }

        return builder.ToString();
    }

    /// <summary>Double-quotes a value with the shell escapes os-release allows.</summary>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder("\"");
        foreach (var c in value)
        {
            if (c is '"' or '\\' or '$' or '`')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.Append('"').ToString();
    }

    private static bool TrySplit(string line, out string key, out string value)
    {
        key = string.Empty;
        value = string.Empty;
        var trimmed = line.Trim();
        if (trimmed.Length == 0 || trimmed.StartsWith('#'))
        {
            return false;
        }

        var equals = trimmed.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            return false;
        }

        key = trimmed[..equals];
        value = Unquote(trimmed[(equals + 1)..]);
        return key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
    }

    private static string Unquote(string raw)
    {
        if (raw.Length >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[^1] == raw[0])
        {
            var inner = raw[1..^1];
            if (raw[0] == '\'')
            {
                return inner;
            }

            var builder = new StringBuilder();
            for (var i = 0; i < inner.Length; i++)
            {
                if (inner[i] == '\\' && i + 1 < inner.Length)
                {
                    i++;
                }

                builder.Append(inner[i]);
            }

            return builder.ToString();
        }

        return raw;
    }
}
