using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Basalt.Config.Yaml;

namespace Basalt.Config.Model;

/// <summary>The outcome of checking one document: its findings, and the typed config when it had no error.</summary>
public sealed record ConfigValidation(ConfigDocument Document, IReadOnlyList<ConfigIssue> Issues, CloudConfig? Config)
{
    public bool HasErrors => Issues.Any(i => i.Severity == ConfigIssueSeverity.Error);

    public bool HasWarnings => Issues.Any(i => i.Severity == ConfigIssueSeverity.Warning);

    /// <summary>Valid under the given strictness: no errors, and with <paramref name="strict"/> no warnings either.</summary>
    public bool IsValid(bool strict) => !HasErrors && !(strict && HasWarnings);
}

/// <summary>
/// Checks a document against the model, walking the source-generated metadata (no reflection), so every type
/// error names file:line:column and what was expected. Values Go's yaml.v3 would accept for a typed field are
/// normalised in place: yes/no/on/off for booleans, any scalar for strings, integer text for integers.
/// </summary>
public static class ConfigValidator
{
    /// <summary>Validates and, when there is no error, maps the document onto <see cref="CloudConfig"/>.</summary>
    public static ConfigValidation Validate(ConfigDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var issues = new List<ConfigIssue>(document.Warnings);
        var walker = new Walker(document, issues);
        walker.CheckObject(document.Root, ConfigJsonContext.Default.CloudConfig, "$", topLevel: true);
        CloudConfig? config = null;
        if (!issues.Any(i => i.Severity == ConfigIssueSeverity.Error))
        {
            config = ToModel(document.Root, document.Source);
        }

        return new ConfigValidation(document, issues, config);
    }

    /// <summary>Maps an already valid (normalised) tree onto the model.</summary>
    public static CloudConfig ToModel(JsonObject root, string source)
    {
        ArgumentNullException.ThrowIfNull(root);
        try
        {
            return root.Deserialize(ConfigJsonContext.Default.CloudConfig) ?? new CloudConfig();
        }
        catch (JsonException e)
        {
            throw new ConfigValidationException(
                [new ConfigIssue(ConfigIssueSeverity.Error, new SourcePosition(source, 0, 0), e.Path ?? "$", e.Message)]);
        }
    }

    private sealed class Walker(ConfigDocument document, List<ConfigIssue> issues)
    {
        public void CheckObject(JsonObject mapping, JsonTypeInfo typeInfo, string path, bool topLevel)
        {
            var properties = typeInfo.Properties
                .Where(p => !p.IsExtensionData)
                .ToDictionary(p => p.Name, StringComparer.Ordinal);
            foreach (var (key, value) in mapping.ToList())
            {
                var childPath = Child(path, key);
                if (!properties.TryGetValue(key, out var property))
                {
                    var hint = properties.Keys
                        .Select(k => (Key: k, Distance: Distance(Canonical(k), Canonical(key))))
                        .Where(c => c.Distance <= Math.Min(2, c.Key.Length / 3))
                        .OrderBy(c => c.Distance)
                        .Select(c => c.Key)
                        .FirstOrDefault();
                    var message = hint is not null
                        ? $"unknown key '{key}' (did you mean '{hint}'?); it is kept but nothing uses it"
                        : $"unknown key '{key}'; it is kept but {(topLevel ? "Basalt does not use it" : "nothing uses it")}";
                    issues.Add(new ConfigIssue(ConfigIssueSeverity.Warning, document.KeyPositionOf(mapping, key), childPath, message));
                    continue;
                }

                var replacement = CheckValue(value, property.PropertyType, childPath, () => document.PositionOf(mapping, key));
                if (replacement.Replace)
                {
                    mapping[key] = replacement.Value;
                }
            }
        }

        private (bool Replace, JsonNode? Value) CheckValue(JsonNode? value, Type type, string path, Func<SourcePosition> where)
        {
            if (value is null)
            {
                return default;
            }

            var target = Nullable.GetUnderlyingType(type) ?? type;
            if (typeof(JsonNode).IsAssignableFrom(target))
            {
                if (target == typeof(JsonObject) && value is not JsonObject)
                {
                    Error(where(), path, $"expected a mapping, found {Describe(value)}");
                }
                else if (target == typeof(JsonArray) && value is not JsonArray)
                {
                    Error(where(), path, $"expected a list, found {Describe(value)}");
                }

                return default;
            }

            if (target == typeof(string))
            {
                return value switch
                {
                    JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String => default,
                    JsonValue scalar => (true, JsonValue.Create(ScalarText(scalar))),
                    _ => Fail(where(), path, $"expected a string, found {Describe(value)}"),
                };
            }

            if (target == typeof(bool))
            {
                if (value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
                {
                    return default;
                }

                if (value is JsonValue text && text.GetValueKind() == JsonValueKind.String && OldBool(text.GetValue<string>()) is { } parsed)
                {
                    return (true, JsonValue.Create(parsed));
                }

                return Fail(where(), path, $"expected true or false, found {Describe(value)}");
            }

            if (target == typeof(long) || target == typeof(int))
            {
                if (value is JsonValue number && number.GetValueKind() == JsonValueKind.Number && AsInteger(number) is { } integer)
                {
                    if (integer < 0)
                    {
                        return Fail(where(), path, $"expected a non-negative integer, found {integer}");
                    }

                    return number.TryGetValue<long>(out _) ? default : (true, JsonValue.Create(integer));
                }

                if (value is JsonValue s && s.GetValueKind() == JsonValueKind.String
                    && long.TryParse(s.GetValue<string>().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var fromText))
                {
                    return (true, JsonValue.Create(fromText));
                }

                return Fail(where(), path, $"expected an integer, found {Describe(value)}");
            }

            var info = ConfigJsonContext.Default.GetTypeInfo(target)
                ?? throw new InvalidOperationException($"the config model type {target.Name} has no generated metadata");
            switch (info.Kind)
            {
                case JsonTypeInfoKind.Object:
                    if (value is JsonObject child)
                    {
                        CheckObject(child, info, path, topLevel: false);
                        return default;
                    }

                    return Fail(where(), path, $"expected a mapping, found {Describe(value)}");
                case JsonTypeInfoKind.Enumerable:
                    if (value is JsonArray list)
                    {
                        var elementType = info.ElementType!;
                        for (var i = 0; i < list.Count; i++)
                        {
                            var index = i;
                            var replacement = CheckValue(list[i], elementType, $"{path}[{i}]", () => document.PositionOf(list, index));
                            if (replacement.Replace)
                            {
                                list[i] = replacement.Value;
                            }
                        }

                        return default;
                    }

                    return Fail(where(), path, $"expected a list, found {Describe(value)}");
                case JsonTypeInfoKind.Dictionary:
                    if (value is JsonObject map)
                    {
                        var valueType = info.ElementType!;
                        foreach (var (key, item) in map.ToList())
                        {
                            var replacement = CheckValue(item, valueType, Child(path, key), () => document.PositionOf(map, key));
                            if (replacement.Replace)
                            {
                                map[key] = replacement.Value;
                            }
                        }

                        return default;
                    }

                    return Fail(where(), path, $"expected a mapping of names to values, found {Describe(value)}");
                default:
                    return Fail(where(), path, $"unexpected value {Describe(value)}");
            }
        }

        private (bool, JsonNode?) Fail(SourcePosition position, string path, string message)
        {
            Error(position, path, message);
            return default;
        }

        private void Error(SourcePosition position, string path, string message) =>
            issues.Add(new ConfigIssue(ConfigIssueSeverity.Error, position, path, message));
    }

    private static long? AsInteger(JsonValue number)
    {
        if (number.TryGetValue<long>(out var l))
        {
            return l;
        }

        // 64.0 is an integer for a size; 64.5 is not.
        return number.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e15 ? (long)d : null;
    }

    /// <summary>yaml.v3 still reads YAML 1.1 booleans into a typed bool field.</summary>
    private static bool? OldBool(string text) => text switch
    {
        "y" or "Y" or "yes" or "Yes" or "YES" or "on" or "On" or "ON" or "true" or "True" or "TRUE" => true,
        "n" or "N" or "no" or "No" or "NO" or "off" or "Off" or "OFF" or "false" or "False" or "FALSE" => false,
        _ => null,
    };

    private static string ScalarText(JsonValue scalar) => scalar.GetValueKind() switch
    {
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => scalar.ToJsonString(),
    };

    /// <summary>Edit distance, for "did you mean" on short keys.</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private static string Canonical(string key) => key.Replace("-", string.Empty, StringComparison.Ordinal).Replace("_", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    internal static string Child(string path, string key) =>
        key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') ? $"{path}.{key}" : $"{path}['{key.Replace("'", "\\'", StringComparison.Ordinal)}']";

    internal static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "a mapping",
        JsonArray => "a list",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => $"the string \"{Truncate(v.GetValue<string>())}\"",
            JsonValueKind.Number => $"the number {v.ToJsonString()}",
            JsonValueKind.True or JsonValueKind.False => $"the boolean {v.ToJsonString()}",
            _ => v.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..37] + "...";
}
