using System.Text.Json.Nodes;

namespace Basalt.Config.Stages;

/// <summary>
/// One config source (a file, the command line, a URL) whose stages run: its <c>stages</c> plus the
/// standard cloud-init keys, which map onto stages as yip (and so Kairos) maps them.
/// </summary>
public sealed record StageSource(string Origin, JsonObject Config)
{
    /// <summary>A source made of a bare <c>stages</c> value, with no cloud-init keys.</summary>
    public static StageSource FromStages(string origin, JsonNode? stages)
    {
        var config = new JsonObject();
        if (stages is not null)
        {
            config["stages"] = stages.DeepClone();
        }

        return new StageSource(origin, config);
    }

    /// <summary>
    /// Every stage of this source: the cloud-init keys first (as yip puts them), then the <c>stages</c> steps.
    /// Throws <see cref="InvalidStageException"/> when either is malformed.
    /// </summary>
    public StagePlan ToPlan()
    {
        var mapped = CloudInitMapping.ToStages(Config);
        var fromCloudInit = StageParser.Parse(mapped, Origin + " (cloud-init keys)");
        var fromStages = StageParser.Parse(Config["stages"], Origin);
        var stages = new Dictionary<string, IReadOnlyList<StageStep>>(StringComparer.Ordinal);
        foreach (var (stage, steps) in fromCloudInit.Stages)
        {
            stages[stage] = steps;
        }

        foreach (var (stage, steps) in fromStages.Stages)
        {
            stages[stage] = stages.TryGetValue(stage, out var first)
                ? [.. first, .. steps.Select(step => step with { Index = step.Index + first.Count })]
                : steps;
        }

        return new StagePlan(Origin, stages) { Warnings = [.. fromCloudInit.Warnings, .. fromStages.Warnings] };
    }
}

/// <summary>
/// The cloud-init compatibility of yip's loader: <c>runcmd</c>, <c>write_files</c>, <c>users</c> and
/// <c>ssh_authorized_keys</c> go to <c>boot</c>; <c>hostname</c> to <c>initramfs</c> (so the name is
/// set before services start); keys fetched from <c>github:</c>/<c>gitlab:</c> to <c>network</c>;
/// <c>growpart.devices</c> to a <c>boot</c> layout step that grows the last partition.
/// </summary>
public static class CloudInitMapping
{
    /// <summary>A <c>stages</c>-shaped node built from the cloud-init keys of <paramref name="config"/>, or null.</summary>
    public static JsonObject? ToStages(JsonObject config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var globalKeys = Strings(config["ssh_authorized_keys"]);
        var users = new JsonObject();
        var keysByUser = new List<(string User, string Key)>();
        if (config["users"] is JsonArray list)
        {
            foreach (var entry in list)
            {
                if (entry is JsonValue marker && marker.GetValueKind() == System.Text.Json.JsonValueKind.String && marker.GetValue<string>() == "default")
                {
                    // cloud-init's "the distribution's default user": there is none to add here.
                    continue;
                }

                if (entry is not JsonObject user || user["name"]?.GetValueKind() != System.Text.Json.JsonValueKind.String)
                {
                    // Leave it to the parser to name the problem precisely.
                    users[$"invalid-{users.Count}"] = entry?.DeepClone();
                    continue;
                }

                var name = user["name"]!.GetValue<string>();
                var settings = (JsonObject)user.DeepClone();
                settings.Remove("name");
                var keys = Strings(settings["ssh_authorized_keys"]);
                settings.Remove("ssh_authorized_keys");
                users[name] = settings;
                keysByUser.AddRange(keys.Concat(globalKeys).Select(key => (name, key)));
            }
        }
        else if (config["users"] is { } other)
        {
            users["users"] = other.DeepClone();
        }

        if (users.Count == 0)
        {
            keysByUser.AddRange(globalKeys.Select(key => ("root", key)));
        }

        var bootStep = new JsonObject();
        if (config["runcmd"] is { } runcmd)
        {
            bootStep["commands"] = runcmd.DeepClone();
        }

        if (config["write_files"] is { } writeFiles)
        {
            bootStep["files"] = writeFiles.DeepClone();
        }

        if (users.Count > 0)
        {
            bootStep["users"] = users;
        }

        var localKeys = KeysNode(keysByUser.Where(k => !NeedsNetwork(k.Key)));
        if (localKeys.Count > 0)
        {
            bootStep["authorized_keys"] = localKeys;
        }

        var boot = new JsonArray();
        if (bootStep.Count > 0)
        {
            boot.Add((JsonNode)bootStep);
        }

        if (config["growpart"] is JsonObject growpart)
        {
            foreach (var device in Strings(growpart["devices"]))
            {
                boot.Add((JsonNode)new JsonObject
                {
                    ["layout"] = new JsonObject
                    {
                        ["device"] = new JsonObject { ["path"] = device },
                        ["expand_partition"] = new JsonObject { ["size"] = 0 },
                    },
                });
            }
        }

        var stages = new JsonObject();
        if (boot.Count > 0)
        {
            stages["boot"] = boot;
        }

        if (config["hostname"] is { } hostname)
        {
            stages["initramfs"] = new JsonArray(new JsonObject { ["hostname"] = hostname.DeepClone() });
        }

        var networkKeys = KeysNode(keysByUser.Where(k => NeedsNetwork(k.Key)));
        if (networkKeys.Count > 0)
        {
            stages["network"] = new JsonArray(new JsonObject { ["authorized_keys"] = networkKeys });
        }

        return stages.Count == 0 ? null : stages;
    }

    private static bool NeedsNetwork(string key) =>
        key.StartsWith("github:", StringComparison.Ordinal) || key.StartsWith("gitlab:", StringComparison.Ordinal);

    private static JsonObject KeysNode(IEnumerable<(string User, string Key)> keys)
    {
        var node = new JsonObject();
        foreach (var group in keys.GroupBy(k => k.User, StringComparer.Ordinal))
        {
            node[group.Key] = new JsonArray([.. group.Select(k => (JsonNode?)JsonValue.Create(k.Key))]);
        }

        return node;
    }

    private static List<string> Strings(JsonNode? node) => node switch
    {
        JsonArray array => array.OfType<JsonValue>().Where(v => v.GetValueKind() == System.Text.Json.JsonValueKind.String).Select(v => v.GetValue<string>()).ToList(),
        JsonValue value when value.GetValueKind() == System.Text.Json.JsonValueKind.String => [value.GetValue<string>()],
        _ => [],
    };
}
