using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Boot.Grub;

namespace Basalt.Agent.Upgrade;

/// <summary>
/// The upgrade keys of the merged cloud-config: <c>upgrade.source</c> (or Kairos's <c>upgrade.system.uri</c>),
/// <c>upgrade.boot_tries</c>, and <c>upgrade.allow-insecure-registries</c> (a host, a list of hosts, or <c>true</c>
/// for the source's own registry). The command line wins over each of them.
/// </summary>
public sealed record UpgradeSettings(string? Source, int BootTries, IReadOnlyList<string> InsecureRegistries, bool AllowSourceRegistryInsecure)
{
    public static UpgradeSettings Default { get; } = new(null, BootAssessment.DefaultTries, [], false);

    /// <summary>Reads the settings from a merged config; <paramref name="get"/> finds a dot-notation key (MergedConfig.Get).</summary>
    public static UpgradeSettings From(Func<string, JsonNode?> get)
    {
        ArgumentNullException.ThrowIfNull(get);
        var source = Text(get("upgrade.source")) ?? Text(get("upgrade.system.uri"));
        var tries = BootAssessment.DefaultTries;
        if (get("upgrade.boot_tries") is { } triesNode)
        {
            var text = Text(triesNode);
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out tries))
            {
                throw new InvalidBootTriesException(-1, BootAssessment.MaxTries);
            }
        }

        var hosts = new List<string>();
        var allowSource = false;
        switch (get("upgrade.allow-insecure-registries"))
        {
            case JsonArray array:
                hosts.AddRange(array.Select(Text).OfType<string>());
                break;
            case JsonValue value when value.GetValueKind() is JsonValueKind.True:
                allowSource = true;
                break;
            case JsonValue value when Text(value) is { Length: > 0 } host && host != "false":
                hosts.Add(host);
                break;
        }

        return new UpgradeSettings(source, tries, hosts, allowSource);
    }

    private static string? Text(JsonNode? node) => node is JsonValue value
        ? value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.Number => value.ToJsonString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        }
        : null;
}
