using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Basalt.Config.Yaml;

/// <summary>
/// Reads a YAML scalar the way Go's gopkg.in/yaml.v3 (what Kairos and yip use) reads it into an untyped value:
/// only true/false (any case style) are booleans, ~/null/empty are null, decimal/hex/octal (0o17 and 0777)/binary
/// integers with optional underscores, YAML-style floats; everything else, and every quoted scalar, is a string.
/// </summary>
internal static partial class YamlScalars
{
    public const string StrTag = "tag:yaml.org,2002:str";
    public const string IntTag = "tag:yaml.org,2002:int";
    public const string FloatTag = "tag:yaml.org,2002:float";
    public const string BoolTag = "tag:yaml.org,2002:bool";
    public const string NullTag = "tag:yaml.org,2002:null";

    /// <summary>Resolves a plain (unquoted, untagged) scalar.</summary>
    public static JsonNode? ResolvePlain(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        var first = text[0];
        if (first is not ('+' or '-' or '.' or (>= '0' and <= '9')))
        {
            return JsonValue.Create(text);
        }

        return TryNumber(text) ?? JsonValue.Create(text);
    }

    /// <summary>Resolves a scalar with an explicit tag; returns false when the text does not fit the tag.</summary>
    public static bool TryResolveTagged(string tag, string text, out JsonNode? value)
    {
        value = null;
        switch (tag)
        {
            case StrTag:
                value = JsonValue.Create(text);
                return true;
            case NullTag:
                return text is "" or "~" or "null" or "Null" or "NULL";
            case BoolTag:
                if (ResolvePlain(text) is JsonValue b && b.TryGetValue<bool>(out _))
                {
                    value = b;
                    return true;
                }

                return false;
            case IntTag:
                value = TryNumber(text);
                return value is JsonValue v && (v.TryGetValue<long>(out _) || v.TryGetValue<ulong>(out _));
            case FloatTag:
                var number = TryNumber(text);
                if (number is JsonValue n && n.TryGetValue<long>(out var l))
                {
                    value = JsonValue.Create((double)l);
                    return true;
                }

                value = number;
                return number is not null;
            default:
                // Tags Kairos does not know (!Ref, !!binary, !!timestamp) change nothing for it either: read the plain way.
                value = ResolvePlain(text);
                return true;
        }
    }

    private static JsonValue? TryNumber(string text)
    {
        var plain = text.Replace("_", string.Empty, StringComparison.Ordinal);
        if (plain.Length == 0)
        {
            return null;
        }

        if (TryParseGoInteger(plain, out var negative, out var magnitude))
        {
            if (!negative)
            {
                return magnitude <= long.MaxValue ? JsonValue.Create((long)magnitude) : JsonValue.Create(magnitude);
            }

            if (magnitude <= (ulong)long.MaxValue + 1)
            {
                return JsonValue.Create(magnitude == (ulong)long.MaxValue + 1 ? long.MinValue : -(long)magnitude);
            }
        }

        if (FloatPattern().IsMatch(plain)
            && double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            && double.IsFinite(d))
        {
            return JsonValue.Create(d);
        }

        // .inf and .nan exist in YAML but not in JSON: they stay strings.
        return null;
    }

    /// <summary>strconv.ParseInt(s, 0, 64) prefixes: 0x, 0o, 0b, and a bare leading 0 for octal.</summary>
    private static bool TryParseGoInteger(string s, out bool negative, out ulong magnitude)
    {
        negative = false;
        magnitude = 0;
        var i = 0;
        if (s[0] is '+' or '-')
        {
            negative = s[0] == '-';
            i = 1;
        }

        if (i >= s.Length)
        {
            return false;
        }

        var radix = 10;
        if (s.Length - i > 1 && s[i] == '0')
        {
            switch (s[i + 1])
            {
                case 'x' or 'X':
                    radix = 16;
                    i += 2;
                    break;
                case 'o' or 'O':
                    radix = 8;
                    i += 2;
                    break;
                case 'b' or 'B':
                    radix = 2;
                    i += 2;
                    break;
                default:
                    radix = 8;
                    i += 1;
                    break;
            }

            if (i >= s.Length)
            {
                return false;
            }
        }

        ulong value = 0;
        for (; i < s.Length; i++)
        {
            var digit = s[i] switch
            {
                >= '0' and <= '9' => s[i] - '0',
                >= 'a' and <= 'f' => s[i] - 'a' + 10,
                >= 'A' and <= 'F' => s[i] - 'A' + 10,
                _ => 99,
            };
            if (digit >= radix)
            {
                return false;
            }

            var next = (value * (ulong)radix) + (ulong)digit;
            if (value > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
            {
                return false;
            }

            value = next;
        }

        magnitude = value;
        return true;
    }

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPattern();
}
