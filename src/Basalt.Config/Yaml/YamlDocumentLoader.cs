using System.Text;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Basalt.Config.Yaml;

/// <summary>
/// Reads YAML into <see cref="JsonObject"/> with YamlDotNet's event parser (no reflection: trim-safe), building
/// the tree without recursion so depth is checked before it costs anything, expanding aliases under a node
/// budget, refusing duplicate keys, and recording the position of every node.
/// </summary>
public static class YamlDocumentLoader
{
    private const string MergeKey = "<<";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads a file; it must be UTF-8.</summary>
    public static ConfigDocument LoadFile(string path, YamlLoadLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigSourceException(path, $"cannot read: {e.Message}", "Check that the file exists and is readable.", e);
        }

        return Load(bytes, path, limits);
    }

    /// <summary>Reads raw bytes, which must be UTF-8 (a UTF-8 byte order mark is allowed).</summary>
    public static ConfigDocument Load(ReadOnlySpan<byte> bytes, string sourceName, YamlLoadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        if (bytes.StartsWith("\uFEFF"u8))
        {
            bytes = bytes[3..];
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            var (line, column) = LocateInvalidUtf8(bytes);
            throw new ConfigSyntaxException(
                new SourcePosition(sourceName, line, column),
                "the file is not valid UTF-8",
                "Save the file as UTF-8; cloud-config files are read as UTF-8 only.",
                e);
        }

        return Load(text, sourceName, limits);
    }

    /// <summary>Reads YAML text. The first document is read; a later one is reported as a warning and ignored, as Kairos does.</summary>
    public static ConfigDocument Load(string text, string sourceName, YamlLoadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(sourceName);
        var builder = new Builder(sourceName, limits ?? YamlLoadLimits.Default);
        return builder.Build(text);
    }

    private static (int Line, int Column) LocateInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var line = 1;
        var column = 1;
        var offset = 0;
        while (offset < bytes.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes[offset..], out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return (line, column);
            }

            if (rune.Value == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }

            offset += consumed;
        }

        return (line, column);
    }

    private static string? FirstLineComment(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        var first = (end < 0 ? text : text[..end]).TrimEnd('\r').Trim();
        return first.StartsWith('#') ? first : null;
    }

    /// <summary>An anchored node: the tree to copy, its size in nodes and its height, for the budget checks.</summary>
    private sealed record Anchored(JsonNode? Node, long Size, int Height);

    /// <summary>A mapping or sequence under construction.</summary>
    private sealed class Frame
    {
        public required JsonNode Container { get; init; }

        public required SourcePosition Position { get; init; }

        public string? Anchor { get; init; }

        public long SizeAtStart { get; init; }

        public int Depth { get; init; }

        public int Height { get; set; }

        // Mapping state: the key waiting for its value.
        public string? PendingKey { get; set; }

        public SourcePosition PendingKeyPosition { get; set; }

        public bool PendingIsMerge { get; set; }

        public List<JsonObject>? MergeSources { get; set; }
    }

    private sealed class Builder(string source, YamlLoadLimits limits)
    {
        private readonly Dictionary<JsonNode, SourcePosition> _nodes = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(JsonNode Container, string Key), SourcePosition> _keys = [];
        private readonly Dictionary<(JsonNode Container, string Key), SourcePosition> _entries = [];
        private readonly Dictionary<string, Anchored> _anchors = new(StringComparer.Ordinal);
        private readonly Stack<Frame> _stack = new();
        private readonly List<ConfigIssue> _warnings = [];
        private long _size;
        private JsonNode? _root;
        private SourcePosition _rootPosition;
        private Mark _lastMark = Mark.Empty;

        public ConfigDocument Build(string text)
        {
            var parser = new Parser(new StringReader(text));
            try
            {
                Run(parser);
            }
            catch (YamlException e)
            {
                throw new ConfigSyntaxException(At(e.Start), Clean(e.Message), null, e);
            }

            var root = _root switch
            {
                null => new JsonObject(),
                JsonObject mapping => mapping,
                _ => throw new ConfigSyntaxException(
                    _rootPosition,
                    $"the document is a {Describe(_root)}, expected a mapping of keys (install:, users:, stages:, …)"),
            };
            if (_root is null)
            {
                _nodes[root] = new SourcePosition(source, 1, 1);
            }

            return new ConfigDocument(root, source, FirstLineComment(text), _warnings, _nodes, _keys, _entries);
        }

        private void Run(Parser parser)
        {
            var documents = 0;
            while (Next(parser))
            {
                var current = parser.Current!;
                _lastMark = current.Start;
                switch (current)
                {
                    case DocumentStart start when !start.IsImplicit || documents > 0:
                        documents++;
                        if (documents > 1)
                        {
                            _warnings.Add(new ConfigIssue(
                                ConfigIssueSeverity.Warning,
                                At(start.Start),
                                "$",
                                "a second YAML document (after ---) is ignored; only the first document of a file is read"));
                            return;
                        }

                        break;
                    case DocumentStart:
                        documents++;
                        break;
                    case Scalar scalar:
                        OnScalar(scalar);
                        break;
                    case AnchorAlias alias:
                        OnAlias(alias);
                        break;
                    case MappingStart mappingStart:
                        Open(new JsonObject(), mappingStart.Anchor, mappingStart.Start);
                        break;
                    case SequenceStart sequenceStart:
                        Open(new JsonArray(), sequenceStart.Anchor, sequenceStart.Start);
                        break;
                    case MappingEnd or SequenceEnd:
                        Close();
                        break;
                }
            }
        }

        private bool Next(Parser parser)
        {
            try
            {
                return parser.MoveNext();
            }
            catch (InvalidOperationException e)
            {
                // YamlDotNet throws this for some malformed input (an unterminated flow collection) without a mark.
                throw new ConfigSyntaxException(At(_lastMark), $"invalid YAML after this point: {e.Message}", null, e);
            }
        }

        private void OnScalar(Scalar scalar)
        {
            var position = At(scalar.Start);
            if (ExpectsKey())
            {
                RegisterAnchor(scalar.Anchor, JsonValue.Create(scalar.Value), 1, 0);
                AcceptKey(scalar.Value, position, isMerge: scalar.Style == ScalarStyle.Plain && scalar.Tag.IsEmpty && scalar.Value == MergeKey);
                return;
            }

            JsonNode? value;
            if (!scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific)
            {
                if (!YamlScalars.TryResolveTagged(scalar.Tag.Value, scalar.Value, out value))
                {
                    throw new ConfigSyntaxException(position, $"'{scalar.Value}' cannot be read as {scalar.Tag.Value}");
                }
            }
            else if (scalar.Style == ScalarStyle.Plain && scalar.Tag.IsEmpty)
            {
                value = YamlScalars.ResolvePlain(scalar.Value);
            }
            else
            {
                value = JsonValue.Create(scalar.Value);
            }

            Count(1, position);
            RegisterAnchor(scalar.Anchor, value, 1, 0);
            Attach(value, position, 0);
        }

        private void OnAlias(AnchorAlias alias)
        {
            var position = At(alias.Start);
            if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
            {
                throw new ConfigSyntaxException(position, $"alias *{alias.Value.Value} refers to no anchor defined before it");
            }

            if (ExpectsKey())
            {
                if (anchored.Node is JsonObject or JsonArray)
                {
                    throw new ConfigSyntaxException(position, "a mapping key must be a scalar, not a mapping or a sequence");
                }

                AcceptKey(anchored.Node?.ToString() ?? string.Empty, position, isMerge: false);
                return;
            }

            Count(anchored.Size, position);
            var depth = _stack.Count + anchored.Height;
            if (depth > limits.MaxDepth)
            {
                throw new ConfigSyntaxException(position, $"nesting deeper than {limits.MaxDepth} levels (through alias *{alias.Value.Value})", "Flatten the document; Kairos configs need only a few levels.");
            }

            var copy = anchored.Node?.DeepClone();
            Attach(copy, position, anchored.Height);
        }

        private void Open(JsonNode container, AnchorName anchor, Mark start)
        {
            var position = At(start);
            if (ExpectsKey())
            {
                throw new ConfigSyntaxException(position, "a mapping key must be a scalar, not a mapping or a sequence");
            }

            if (_stack.Count + 1 > limits.MaxDepth)
            {
                throw new ConfigSyntaxException(position, $"nesting deeper than {limits.MaxDepth} levels", "Flatten the document; Kairos configs need only a few levels.");
            }

            Count(1, position);
            _stack.Push(new Frame
            {
                Container = container,
                Position = position,
                Anchor = anchor.IsEmpty ? null : anchor.Value,
                SizeAtStart = _size - 1,
                Depth = _stack.Count + 1,
            });
        }

        private void Close()
        {
            var frame = _stack.Pop();
            if (frame.MergeSources is { } sources && frame.Container is JsonObject target)
            {
                // Explicit keys win over merged ones; among merged sources the first one listed wins (YAML merge-key rules).
                foreach (var mergeSource in sources)
                {
                    foreach (var (key, value) in mergeSource)
                    {
                        if (!target.ContainsKey(key))
                        {
                            var copy = value?.DeepClone();
                            target[key] = copy;
                            _entries[(target, key)] = frame.Position;
                        }
                    }
                }
            }

            var height = frame.Height + 1;
            if (frame.Anchor is not null)
            {
                _anchors[frame.Anchor] = new Anchored(frame.Container, _size - frame.SizeAtStart, height);
            }

            Attach(frame.Container, frame.Position, height);
        }

        private bool ExpectsKey() => _stack.TryPeek(out var top) && top.Container is JsonObject && top.PendingKey is null;

        private void AcceptKey(string key, SourcePosition position, bool isMerge)
        {
            var top = _stack.Peek();
            var mapping = (JsonObject)top.Container;
            if (!isMerge && mapping.ContainsKey(key))
            {
                var first = _keys.TryGetValue((mapping, key), out var firstPosition) ? $" (first at line {firstPosition.Line})" : string.Empty;
                throw new ConfigSyntaxException(position, $"duplicate key '{key}'{first}", "Keep one of the two; YAML does not allow a key twice in one mapping.");
            }

            top.PendingKey = key;
            top.PendingKeyPosition = position;
            top.PendingIsMerge = isMerge;
        }

        private void Attach(JsonNode? value, SourcePosition position, int height)
        {
            if (value is not null)
            {
                _nodes[value] = position;
            }

            if (!_stack.TryPeek(out var top))
            {
                _root = value;
                _rootPosition = position;
                return;
            }

            top.Height = Math.Max(top.Height, height);
            switch (top.Container)
            {
                case JsonArray array:
                    _entries[(array, ConfigDocument.IndexKey(array.Count))] = position;
                    array.Add(value);
                    break;
                case JsonObject when top.PendingIsMerge:
                    AddMergeSource(top, value, position);
                    top.PendingKey = null;
                    top.PendingIsMerge = false;
                    break;
                case JsonObject mapping:
                    var key = top.PendingKey!;
                    mapping[key] = value;
                    _keys[(mapping, key)] = top.PendingKeyPosition;
                    _entries[(mapping, key)] = position;
                    top.PendingKey = null;
                    break;
            }
        }

        private static void AddMergeSource(Frame frame, JsonNode? value, SourcePosition position)
        {
            frame.MergeSources ??= [];
            switch (value)
            {
                case JsonObject source:
                    frame.MergeSources.Add(source);
                    break;
                case JsonArray list when list.All(item => item is JsonObject):
                    frame.MergeSources.AddRange(list.Select(item => (JsonObject)item!));
                    break;
                default:
                    throw new ConfigSyntaxException(position, "the value of a merge key (<<) must be a mapping or a list of mappings");
            }
        }

        private void RegisterAnchor(AnchorName anchor, JsonNode? value, long size, int height)
        {
            if (!anchor.IsEmpty)
            {
                _anchors[anchor.Value] = new Anchored(value, size, height);
            }
        }

        private void Count(long nodes, SourcePosition position)
        {
            _size += nodes;
            if (_size > limits.MaxNodes)
            {
                throw new ConfigSyntaxException(
                    position,
                    $"the document expands to more than {limits.MaxNodes} nodes (aliases included); refusing it as a possible YAML bomb",
                    "Use fewer aliases or split the configuration.");
            }
        }

        private SourcePosition At(Mark mark) => new(source, (int)Math.Min(mark.Line, int.MaxValue), (int)Math.Min(mark.Column, int.MaxValue));

        private static string Describe(JsonNode? node) => node switch
        {
            null => "null",
            JsonArray => "sequence",
            JsonObject => "mapping",
            _ => "scalar",
        };

        private static string Clean(string message)
        {
            // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; the position is already in front.
            var marker = message.IndexOf("): ", StringComparison.Ordinal);
            return message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
        }
    }
}
