using System.Text;
using System.Text.Json.Nodes;
using Basalt.Config.Model;
using Basalt.Config.Yaml;

namespace Basalt.Config.Collection;

/// <summary>
/// Turns the kernel command line into a config document the way Kairos does: every <c>KEY=VALUE</c> token whose
/// first key is a cloud-config key (<c>install.device=/dev/vda</c>, <c>stages.boot[0].commands[0]=…</c>) is set
/// by dot notation, values are strings except a bare <c>true</c>/<c>false</c>, a token without '=' means true;
/// <c>kairos.config=KEY=VALUE</c> stanzas set any key; <c>kairos.config_url=URL</c> is <c>config_url</c>.
/// Tokens that belong to the kernel or the mounter (<c>root=</c>, <c>rd.*</c>, <c>console=</c>) are left alone.
/// </summary>
public static class KernelCommandLine
{
    public const string SourceName = "cmdline";

    private const string StanzaPrefix = "kairos.config=";
    private const string ConfigUrlAlias = "kairos.config_url";

    /// <summary>The top-level keys a plain token may set (Kairos filters the command line through its config type).</summary>
    public static IReadOnlySet<string> KnownTopLevelKeys { get; } =
        ConfigJsonContext.Default.CloudConfig.Properties.Where(p => !p.IsExtensionData).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Builds the document; malformed tokens aimed at config keys become warnings on it.</summary>
    public static ConfigDocument Parse(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var root = new JsonObject();
        var entries = new Dictionary<(JsonNode Container, string Key), SourcePosition>();
        var nodes = new Dictionary<JsonNode, SourcePosition>(ReferenceEqualityComparer.Instance) { [root] = new SourcePosition(SourceName, 1, 1) };
        var warnings = new List<ConfigIssue>();
        foreach (var (token, column) in Split(commandLine))
        {
            var position = new SourcePosition(SourceName, 1, column);
            string assignment;
            var anyKey = false;
            if (token.StartsWith(StanzaPrefix, StringComparison.Ordinal))
            {
                assignment = token[StanzaPrefix.Length..];
                anyKey = true;
                if (assignment.Length == 0)
                {
                    continue;
                }
            }
            else
            {
                assignment = token;
            }

            var equals = assignment.IndexOf('=', StringComparison.Ordinal);
            var key = (equals < 0 ? assignment : assignment[..equals]).Trim('"');
            var text = equals < 0 ? "true" : assignment[(equals + 1)..].Trim('"');
            if (key == ConfigUrlAlias)
            {
                key = "config_url";
            }

            var topLevel = key.Split('.', '[')[0];
            if (!anyKey && !KnownTopLevelKeys.Contains(topLevel))
            {
                continue;
            }

            if (!KeyPath.TryParse(key, out var path, out var error))
            {
                warnings.Add(new ConfigIssue(ConfigIssueSeverity.Warning, position, "$", $"command line token ignored: {error}"));
                continue;
            }

            JsonNode value = text is "true" or "false" ? JsonValue.Create(text == "true") : JsonValue.Create(text);
            path.Set(root, value);
            nodes[value] = position;
            RecordEntry(root, path, position, entries, nodes);
        }

        return new ConfigDocument(root, SourceName, null, warnings, nodes, [], entries);
    }

    private static void RecordEntry(
        JsonObject root,
        KeyPath path,
        SourcePosition position,
        Dictionary<(JsonNode Container, string Key), SourcePosition> entries,
        Dictionary<JsonNode, SourcePosition> nodes)
    {
        JsonNode? container = root;
        for (var i = 0; i < path.Segments.Count && container is not null; i++)
        {
            var segment = path.Segments[i];
            var key = segment.IsIndex ? ConfigDocument.IndexKey(segment.Index) : segment.Key!;
            entries.TryAdd((container, key), position);
            container = segment.IsIndex ? ((JsonArray)container)[segment.Index] : ((JsonObject)container)[segment.Key!];
            if (container is not null)
            {
                nodes.TryAdd(container, position);
            }
        }
    }

    /// <summary>Splits like a shell (shlex): whitespace separates, quotes group, backslash escapes; returns 1-based columns.</summary>
    internal static IEnumerable<(string Token, int Column)> Split(string commandLine)
    {
        var token = new StringBuilder();
        var start = -1;
        char quote = '\0';
        for (var i = 0; i < commandLine.Length; i++)
        {
            var c = commandLine[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < commandLine.Length)
                {
                    token.Append(commandLine[++i]);
                }
                else
                {
                    token.Append(c);
                }

                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                if (start >= 0)
                {
                    yield return (token.ToString(), start + 1);
                    token.Clear();
                    start = -1;
                }

                continue;
            }

            if (start < 0)
            {
                start = i;
            }

            if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '\\' && i + 1 < commandLine.Length)
            {
                token.Append(commandLine[++i]);
            }
            else
            {
                token.Append(c);
            }
        }

        if (start >= 0)
        {
            yield return (token.ToString(), start + 1);
        }
    }
}
