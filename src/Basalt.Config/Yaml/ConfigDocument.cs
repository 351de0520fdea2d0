using System.Text.Json.Nodes;

namespace Basalt.Config.Yaml;

/// <summary>
/// One cloud-config document read into the JSON tree every Basalt component works with, plus a side table
/// that remembers where each node was written so messages can point at file:line:column.
/// </summary>
/// <remarks>
/// Positions are keyed by node identity (values and containers) and by (container, key/index) for entries,
/// which also covers <c>null</c> values that have no node of their own. Mutating the tree keeps the positions
/// of the nodes that stay; a node moved to another tree is no longer found.
/// </remarks>
public sealed class ConfigDocument
{
    private readonly Dictionary<JsonNode, SourcePosition> _nodes;
    private readonly Dictionary<(JsonNode Container, string Key), SourcePosition> _keys;
    private readonly Dictionary<(JsonNode Container, string Key), SourcePosition> _entries;

    internal ConfigDocument(
        JsonObject root,
        string source,
        string? header,
        IReadOnlyList<ConfigIssue> warnings,
        Dictionary<JsonNode, SourcePosition> nodes,
        Dictionary<(JsonNode Container, string Key), SourcePosition> keys,
        Dictionary<(JsonNode Container, string Key), SourcePosition> entries)
    {
        Root = root;
        Source = source;
        Header = header;
        Warnings = warnings;
        _nodes = nodes;
        _keys = keys;
        _entries = entries;
    }

    /// <summary>The top-level mapping (empty when the document holds only comments).</summary>
    public JsonObject Root { get; }

    /// <summary>File path, URL or "cmdline" the document was read from.</summary>
    public string Source { get; }

    /// <summary>The first line when it is a comment (<c>#cloud-config</c> and friends), else null.</summary>
    public string? Header { get; }

    /// <summary>Findings of the reader that do not stop it (for example a second YAML document that is ignored).</summary>
    public IReadOnlyList<ConfigIssue> Warnings { get; }

    /// <summary>The start of the document, for findings about the document as a whole.</summary>
    public SourcePosition Start => new(Source, 1, 1);

    /// <summary>Where <paramref name="node"/> was written; for a node without an entry (an alias copy), its nearest ancestor.</summary>
    public SourcePosition PositionOf(JsonNode? node)
    {
        for (var current = node; current is not null; current = current.Parent)
        {
            if (_nodes.TryGetValue(current, out var position))
            {
                return position;
            }
        }

        return Start;
    }

    /// <summary>Where the value of <paramref name="key"/> in <paramref name="mapping"/> was written (works for null values too).</summary>
    public SourcePosition PositionOf(JsonObject mapping, string key)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        return _entries.TryGetValue((mapping, key), out var position) ? position : PositionOf(mapping);
    }

    /// <summary>Where item <paramref name="index"/> of <paramref name="sequence"/> was written (works for null items too).</summary>
    public SourcePosition PositionOf(JsonArray sequence, int index)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        return _entries.TryGetValue((sequence, IndexKey(index)), out var position) ? position : PositionOf(sequence);
    }

    /// <summary>Where the key itself was written (for "unknown key" findings).</summary>
    public SourcePosition KeyPositionOf(JsonObject mapping, string key)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        return _keys.TryGetValue((mapping, key), out var position) ? position : PositionOf(mapping, key);
    }

    internal static string IndexKey(int index) => "[" + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + "]";
}
