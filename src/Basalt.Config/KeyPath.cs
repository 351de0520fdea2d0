using System.Globalization;
using System.Text.Json.Nodes;

namespace Basalt.Config;

/// <summary>One step of a <see cref="KeyPath"/>: a mapping key or a list index.</summary>
public readonly record struct KeyPathSegment(string? Key, int Index)
{
    public bool IsIndex => Key is null;

    public override string ToString() => Key ?? $"[{Index.ToString(CultureInfo.InvariantCulture)}]";
}

/// <summary>
/// A dot-notation key as Kairos takes it on the kernel command line and in <c>config get</c>:
/// <c>install.device</c>, <c>stages.boot[0].commands[1]</c>, <c>install.partitions.oem.size</c>.
/// Keys may contain letters, digits, '_' and '-' (Kairos keys such as <c>no-format</c> and <c>k3s-agent</c>).
/// </summary>
public sealed record KeyPath(IReadOnlyList<KeyPathSegment> Segments)
{
    /// <summary>Largest list index a path may name; keeps a command-line typo from allocating a huge list.</summary>
    public const int MaxIndex = 255;

    public string TopLevelKey => Segments[0].Key!;

    public static bool TryParse(string text, out KeyPath path, out string? error)
    {
        path = new KeyPath([]);
        error = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "empty key";
            return false;
        }

        var segments = new List<KeyPathSegment>();
        var i = text.StartsWith('.') ? 1 : 0;
        var expectKey = true;
        while (i < text.Length)
        {
            if (text[i] == '[')
            {
                var close = text.IndexOf(']', i);
                if (close < 0 || segments.Count == 0
                    || !int.TryParse(text.AsSpan(i + 1, close - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    error = $"'{text}': a list index is written [N] after a key";
                    return false;
                }

                if (index > MaxIndex)
                {
                    error = $"'{text}': list index {index} is larger than {MaxIndex}";
                    return false;
                }

                segments.Add(new KeyPathSegment(null, index));
                i = close + 1;
                expectKey = false;
                continue;
            }

            if (text[i] == '.')
            {
                if (expectKey)
                {
                    error = $"'{text}': empty key between dots";
                    return false;
                }

                i++;
                expectKey = true;
                continue;
            }

            if (!expectKey)
            {
                error = $"'{text}': expected '.' or '[' at position {i + 1}";
                return false;
            }

            var start = i;
            while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '_' or '-'))
            {
                i++;
            }

            if (i == start)
            {
                error = $"'{text}': '{text[i]}' cannot appear in a key";
                return false;
            }

            segments.Add(new KeyPathSegment(text[start..i], 0));
            expectKey = false;
        }

        if (expectKey || segments.Count == 0 || segments[0].IsIndex)
        {
            error = $"'{text}': a key path starts with a key and does not end with a dot";
            return false;
        }

        path = new KeyPath(segments);
        return true;
    }

    public static KeyPath Parse(string text) =>
        TryParse(text, out var path, out var error) ? path : throw new ArgumentException(error, nameof(text));

    /// <summary>The node at this path, or null when any step is missing.</summary>
    public JsonNode? Find(JsonNode? root)
    {
        var current = root;
        foreach (var segment in Segments)
        {
            current = (segment.IsIndex, current) switch
            {
                (true, JsonArray list) => segment.Index < list.Count ? list[segment.Index] : null,
                (false, JsonObject map) => map.TryGetPropertyValue(segment.Key!, out var child) ? child : null,
                _ => null,
            };
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>Whether every step exists (the value itself may be null).</summary>
    public bool Exists(JsonNode? root)
    {
        var current = root;
        for (var i = 0; i < Segments.Count; i++)
        {
            var segment = Segments[i];
            JsonNode? next;
            switch (current)
            {
                case JsonArray list when segment.IsIndex && segment.Index < list.Count:
                    next = list[segment.Index];
                    break;
                case JsonObject map when !segment.IsIndex && map.TryGetPropertyValue(segment.Key!, out var child):
                    next = child;
                    break;
                default:
                    return false;
            }

            current = next;
        }

        return true;
    }

    /// <summary>Sets the value, creating mappings and lists on the way (lists padded with nulls); a scalar in the way is replaced.</summary>
    public void Set(JsonObject root, JsonNode? value)
    {
        ArgumentNullException.ThrowIfNull(root);
        JsonNode container = root;
        for (var i = 0; i < Segments.Count; i++)
        {
            var segment = Segments[i];
            var last = i == Segments.Count - 1;
            JsonNode? Make() => last ? value : Segments[i + 1].IsIndex ? new JsonArray() : new JsonObject();
            if (segment.IsIndex)
            {
                var list = (JsonArray)container;
                while (list.Count <= segment.Index)
                {
                    list.Add(null);
                }

                if (last || !Fits(list[segment.Index], Segments[i + 1]))
                {
                    list[segment.Index] = Make();
                }

                container = list[segment.Index]!;
            }
            else
            {
                var map = (JsonObject)container;
                if (last || !map.TryGetPropertyValue(segment.Key!, out var existing) || !Fits(existing, Segments[i + 1]))
                {
                    map[segment.Key!] = Make();
                }

                if (last)
                {
                    return;
                }

                container = map[segment.Key!]!;
            }
        }
    }

    private static bool Fits(JsonNode? node, KeyPathSegment next) => next.IsIndex ? node is JsonArray : node is JsonObject;

    public override string ToString() =>
        string.Concat(Segments.Select((s, i) => s.IsIndex ? s.ToString() : (i == 0 ? s.Key : "." + s.Key)));
}
