using System.Text.Json.Nodes;

namespace Basalt.Config.Collection;

/// <summary>
/// Kairos's merge rules (kairos-sdk collector.DeepMerge), applied to JSON trees: mappings merge key by key,
/// a later scalar wins, a later null empties the earlier value (an empty list or mapping, or null), and lists
/// of mappings are concatenated while lists of scalars gain the later items they do not have yet. Basalt differs
/// in two places: a type clash (a list over a mapping) is a warning and the later value wins instead of failing
/// the whole merge, and <c>stages</c> is never emptied or replaced, so every file's steps run.
/// </summary>
public static class ConfigMerger
{
    /// <summary>Merges <paramref name="later"/> into <paramref name="target"/> (modified in place; later's nodes are copied).</summary>
    public static void MergeInto(JsonObject target, JsonObject later, Action<string, string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(later);
        MergeMaps(target, later, "$", warn ?? ((_, _) => { }));
    }

    private static void MergeMaps(JsonObject target, JsonObject later, string path, Action<string, string> warn)
    {
        foreach (var (key, value) in later)
        {
            var childPath = path + "." + key;
            var protectedStages = path == "$" && key == "stages";
            if (!target.TryGetPropertyValue(key, out var current) || current is null)
            {
                if (!(protectedStages && value is null))
                {
                    target[key] = value?.DeepClone();
                }

                continue;
            }

            if (value is null)
            {
                if (protectedStages)
                {
                    warn(childPath, "a null 'stages' does not remove the stages of earlier files; ignored");
                    continue;
                }

                target[key] = current switch
                {
                    JsonArray => new JsonArray(),
                    JsonObject => new JsonObject(),
                    _ => null,
                };
                continue;
            }

            switch (current, value)
            {
                case (JsonObject currentMap, JsonObject laterMap):
                    MergeMaps(currentMap, laterMap, childPath, warn);
                    break;
                case (JsonArray currentList, JsonArray laterList):
                    MergeLists(currentList, laterList);
                    break;
                case (JsonObject or JsonArray, _) or (_, JsonObject or JsonArray):
                    if (protectedStages)
                    {
                        warn(childPath, $"'stages' must be a mapping; this {Kind(value)} is ignored and earlier stages are kept");
                        break;
                    }

                    warn(childPath, $"a {Kind(value)} replaces the earlier {Kind(current)}");
                    target[key] = value.DeepClone();
                    break;
                default:
                    target[key] = value.DeepClone();
                    break;
            }
        }
    }

    private static void MergeLists(JsonArray current, JsonArray later)
    {
        // Kairos decides by the first item of the earlier list: mappings concatenate, anything else is a set union.
        if (current.Count == 0 || current[0] is JsonObject)
        {
            foreach (var item in later)
            {
                current.Add(item?.DeepClone());
            }

            return;
        }

        foreach (var item in later)
        {
            if (!current.Any(existing => JsonNode.DeepEquals(existing, item)))
            {
                current.Add(item?.DeepClone());
            }
        }
    }

    private static string Kind(JsonNode? node) => node switch
    {
        JsonObject => "mapping",
        JsonArray => "list",
        null => "null",
        _ => "scalar",
    };
}
