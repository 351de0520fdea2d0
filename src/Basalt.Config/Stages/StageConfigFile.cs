using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Basalt.Config.Stages;

/// <summary>A config file given to <c>basalt run-stage --config</c> could not be read.</summary>
public sealed class StageConfigFileException : ConfigException
{
    public StageConfigFileException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", "give a YAML cloud-config file (a map at the top level)", inner)
    {
        Path = path;
    }

    public string Path { get; }
    public override string Kind => "invalid-config-file";
}

/// <summary>
/// Reads one YAML cloud-config file into a <see cref="JsonObject"/> for <c>run-stage --config</c>, with
/// scalars resolved as Go's yaml.v3 resolves them for yip (true/false, null, integers with a leading-0
/// octal such as <c>0644</c>) and limits on size, depth and alias expansion. The full collector
/// (directories, headers, merge, kernel command line) is not this: it only makes one file a source.
/// </summary>
public static class StageConfigFile
{
    private const long MaxBytes = 1 << 20;
    private const int MaxDepth = 256;
    private const int MaxNodes = 200_000;

    public static StageSource Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new StageConfigFileException(path, "no such file");
        }

        if (info.Length > MaxBytes)
        {
            throw new StageConfigFileException(path, $"is {info.Length} bytes; a config is at most {MaxBytes} bytes");
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException error)
        {
            throw new StageConfigFileException(path, "is not UTF-8 text", error);
        }

        return new StageSource(path, Parse(text, path));
    }

    public static JsonObject Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException error)
        {
            throw new StageConfigFileException(source, $"line {error.Start.Line}, column {error.Start.Column}: {error.Message}", error);
        }

        if (stream.Documents.Count == 0)
        {
            return [];
        }

        var budget = MaxNodes;
        return Convert(stream.Documents[0].RootNode, 0, ref budget, source) switch
        {
            JsonObject map => map,
            null => [],
            var other => throw new StageConfigFileException(source, $"the top level is {StageParser.Describe(other)}, not a map"),
        };
    }

    private static JsonNode? Convert(YamlNode node, int depth, ref int budget, string source)
    {
        if (depth > MaxDepth)
        {
            throw new StageConfigFileException(source, $"nesting deeper than {MaxDepth} levels at line {node.Start.Line}");
        }

        if (--budget < 0)
        {
            throw new StageConfigFileException(source, $"more than {MaxNodes} values once aliases are expanded");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var result = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    var name = key is YamlScalarNode scalarKey ? scalarKey.Value ?? string.Empty
                        : throw new StageConfigFileException(source, $"line {key.Start.Line}: a map key must be text");
                    result[name] = Convert(value, depth + 1, ref budget, source);
                }

                return result;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item, depth + 1, ref budget, source));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new StageConfigFileException(source, $"line {node.Start.Line}: unsupported YAML node");
        }
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? string.Empty;
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded
            || (!scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific && scalar.Tag.Value is "tag:yaml.org,2002:str" or "!!str"))
        {
            return JsonValue.Create(value);
        }

        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (TryInteger(value, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (value.Any(char.IsAsciiDigit) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
        {
            return JsonValue.Create(real);
        }

        return JsonValue.Create(value);
    }

    /// <summary>strconv.ParseInt(s, 0, 64): 0x, 0o, 0b prefixes and a bare leading 0 for octal.</summary>
    private static bool TryInteger(string text, out long value)
    {
        value = 0;
        var negative = text.StartsWith('-');
        var body = text.TrimStart('+', '-').Replace("_", string.Empty, StringComparison.Ordinal);
        if (body.Length == 0 || !char.IsAsciiDigit(body[0]))
        {
            return false;
        }

        var (digits, radix) = body switch
        {
            _ when body.StartsWith("0x", StringComparison.OrdinalIgnoreCase) => (body[2..], 16),
            _ when body.StartsWith("0o", StringComparison.OrdinalIgnoreCase) => (body[2..], 8),
            _ when body.StartsWith("0b", StringComparison.OrdinalIgnoreCase) => (body[2..], 2),
            _ when body.Length > 1 && body[0] == '0' => (body[1..], 8),
            _ => (body, 10),
        };
        const string alphabet = "0123456789abcdef";
        if (digits.Length == 0)
        {
            return false;
        }

        try
        {
            foreach (var c in digits.ToLowerInvariant())
            {
                var digit = alphabet.IndexOf(c, StringComparison.Ordinal);
                if (digit < 0 || digit >= radix)
                {
                    return false;
                }

                value = checked((value * radix) + digit);
            }
        }
        catch (OverflowException)
        {
            return false;
        }

        value = negative ? -value : value;
        return true;
    }
}
