using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Basalt.Config.Stages;

/// <summary>
/// The values a step's templates can read. <c>.Values</c> holds the caller's values over the built-in
/// facts yip exposes (node.hostname, node.machineid, os.*, kernel.*, Random, ProtectedID); the top
/// level holds MachineID, UUID, Random and ProtectedID as yip's hostname templates use them.
/// </summary>
public sealed class TemplateData
{
    private readonly JsonObject? _values;
    private readonly Func<string?> _machineId;
    private readonly IReadOnlyDictionary<string, string> _facts;

    public TemplateData(JsonObject? values, Func<string?> machineId, IReadOnlyDictionary<string, string> facts)
    {
        _values = values;
        _machineId = machineId ?? throw new ArgumentNullException(nameof(machineId));
        _facts = facts ?? throw new ArgumentNullException(nameof(facts));
    }

    /// <summary>The value at a path such as ["Values", "node", "hostname"], or null when there is none.</summary>
    public string? Resolve(IReadOnlyList<string> path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Count == 0)
        {
            return null;
        }

        if (path[0] == "Values" && path.Count > 1)
        {
            if (Lookup(_values, path.Skip(1)) is { } provided)
            {
                return provided;
            }

            var key = string.Join('.', path.Skip(1));
            return key switch
            {
                "Random" => RandomText(),
                "ProtectedID" => ProtectedId(),
                "node.machineid" => MachineId(),
                _ => _facts.TryGetValue(key, out var fact) ? fact : null,
            };
        }

        return path.Count == 1 ? path[0] switch
        {
            "MachineID" => MachineId(),
            "ProtectedID" => ProtectedId(),
            "Random" => RandomText(),
            "UUID" => Guid.NewGuid().ToString(),
            _ => null,
        } : null;
    }

    private string MachineId() =>
        _machineId() ?? throw new StageTemplateException("MachineID", "the root has no /etc/machine-id to read the machine id from");

    /// <summary>yip's ProtectedID: HMAC-SHA256 of the app id "yip" keyed with the machine id, in hex.</summary>
    private string ProtectedId() =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(MachineId()), "yip"u8));

    private static string RandomText()
    {
        const string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return RandomNumberGenerator.GetString(letters, 32);
    }

    private static string? Lookup(JsonNode? node, IEnumerable<string> path)
    {
        foreach (var key in path)
        {
            if (node is not JsonObject map || !map.TryGetPropertyValue(key, out node))
            {
                return null;
            }
        }

        return node switch
        {
            null => null,
            JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
            _ => node.ToJsonString(),
        };
    }
}

/// <summary>
/// The small part of Go's text/template (with sprig) that Kairos configs use: <c>{{ .Values.a.b }}</c>,
/// <c>{{ .MachineID }}</c>, the functions trunc, upper, lower, trim, default, pipes, and <c>{{-</c>/<c>-}}</c>.
/// Anything else is a <see cref="StageTemplateException"/>, never silently left in the output.
/// </summary>
public static class StageTemplate
{
    public static bool HasTemplate(string text) => text?.Contains("{{", StringComparison.Ordinal) == true;

    public static string Render(string text, TemplateData data)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(data);
        if (!HasTemplate(text))
        {
            return text;
        }

        var output = new StringBuilder(text.Length);
        var position = 0;
        while (position < text.Length)
        {
            var open = text.IndexOf("{{", position, StringComparison.Ordinal);
            if (open < 0)
            {
                output.Append(text, position, text.Length - position);
                break;
            }

            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                throw new StageTemplateException(text, "'{{' is never closed by '}}'");
            }

            var inner = text[(open + 2)..close];
            var trimLeft = inner.StartsWith('-');
            var trimRight = inner.EndsWith('-') && inner.Length > 1;
            if (trimLeft)
            {
                inner = inner[1..];
            }

            if (trimRight)
            {
                inner = inner[..^1];
            }

            var literal = text[position..open];
            output.Append(trimLeft ? literal.TrimEnd() : literal);
            output.Append(Evaluate(inner.Trim(), text, data));
            position = close + 2;
            if (trimRight)
            {
                while (position < text.Length && char.IsWhiteSpace(text[position]))
                {
                    position++;
                }
            }
        }

        return output.ToString();
    }

    private static string Evaluate(string expression, string template, TemplateData data)
    {
        if (expression.Length == 0)
        {
            throw new StageTemplateException(template, "empty action '{{ }}'");
        }

        if (expression.StartsWith("/*", StringComparison.Ordinal) && expression.EndsWith("*/", StringComparison.Ordinal))
        {
            return string.Empty;
        }

        string? piped = null;
        foreach (var command in expression.Split('|'))
        {
            var tokens = Tokenize(command.Trim(), template);
            if (tokens.Count == 0)
            {
                throw new StageTemplateException(template, $"empty command in '{expression}'");
            }

            if (piped is not null)
            {
                tokens.Add(Token.Literal(piped));
            }

            piped = Apply(tokens, template, data);
        }

        return piped ?? string.Empty;
    }

    private static string Apply(List<Token> tokens, string template, TemplateData data)
    {
        var head = tokens[0];
        if (head.Kind != TokenKind.Word)
        {
            return tokens.Count == 1 ? Value(head, template, data) : throw new StageTemplateException(template, $"'{head.Text}' is not a function");
        }

        if (head.Text is not ("trunc" or "upper" or "lower" or "trim" or "default"))
        {
            throw new StageTemplateException(template, $"unsupported template syntax or function '{head.Text}'");
        }

        var arguments = tokens.Skip(1).Select(t => Value(t, template, data)).ToList();
        switch (head.Text)
        {
            case "trunc" when arguments.Count == 2:
                if (!int.TryParse(arguments[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var length))
                {
                    throw new StageTemplateException(template, $"trunc wants a number first, found '{arguments[0]}'");
                }

                var text = arguments[1];
                return length >= 0
                    ? text[..Math.Min(length, text.Length)]
                    : text[Math.Max(0, text.Length + length)..];
            case "upper" when arguments.Count == 1:
                return arguments[0].ToUpperInvariant();
            case "lower" when arguments.Count == 1:
                return arguments[0].ToLowerInvariant();
            case "trim" when arguments.Count == 1:
                return arguments[0].Trim();
            case "default" when arguments.Count == 2:
                return arguments[1].Length == 0 ? arguments[0] : arguments[1];
            default:
                throw new StageTemplateException(template, $"wrong number of arguments to {head.Text}");
        }
    }

    private static string Value(Token token, string template, TemplateData data) => token.Kind switch
    {
        TokenKind.Literal => token.Text,
        TokenKind.Field => data.Resolve(token.Text.Split('.', StringSplitOptions.RemoveEmptyEntries))
            ?? throw new StageTemplateException(template, $"no value for '{token.Text}'"),
        _ => token.Text.Length > 0 && (char.IsAsciiDigit(token.Text[0]) || token.Text[0] == '-')
            ? token.Text
            : throw new StageTemplateException(template, $"unsupported template syntax '{token.Text}'"),
    };

    private static List<Token> Tokenize(string command, string template)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < command.Length)
        {
            var c = command[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c == '"')
            {
                var end = command.IndexOf('"', i + 1);
                if (end < 0)
                {
                    throw new StageTemplateException(template, "unterminated string");
                }

                tokens.Add(Token.Literal(command[(i + 1)..end]));
                i = end + 1;
                continue;
            }

            var start = i;
            while (i < command.Length && !char.IsWhiteSpace(command[i]))
            {
                i++;
            }

            var word = command[start..i];
            if (word.StartsWith('.'))
            {
                if (word.Length == 1 || !word.Split('.', StringSplitOptions.RemoveEmptyEntries).All(part => part.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-')))
                {
                    throw new StageTemplateException(template, $"unsupported field reference '{word}'");
                }

                tokens.Add(new Token(TokenKind.Field, word));
            }
            else
            {
                tokens.Add(new Token(TokenKind.Word, word));
            }
        }

        return tokens;
    }

    private enum TokenKind
    {
        Word,
        Field,
        Literal,
    }

    private readonly record struct Token(TokenKind Kind, string Text)
    {
        public static Token Literal(string text) => new(TokenKind.Literal, text);
    }
}
