using System.Text.Json.Nodes;
using Basalt.Config.Collection;

namespace Basalt.Config.Tests.Collection;

public sealed class ConfigMergerTests
{
    private static JsonObject Merge(string earlier, string later, List<string>? warnings = null)
    {
        var target = JsonNode.Parse(earlier)!.AsObject();
        ConfigMerger.MergeInto(target, JsonNode.Parse(later)!.AsObject(), (path, message) => warnings?.Add($"{path}: {message}"));
        return target;
    }

    [Fact]
    public void Maps_merge_deeply_and_later_scalars_win()
    {
        var merged = Merge("""{"install":{"device":"/dev/sda","auto":true},"hostname":"a"}""", """{"install":{"device":"/dev/vda"},"hostname":"b"}""");
        Assert.Equal("""{"install":{"device":"/dev/vda","auto":true},"hostname":"b"}""", merged.ToJsonString());
    }

    [Fact]
    public void Lists_of_mappings_concatenate()
    {
        var merged = Merge("""{"users":[{"name":"a"}]}""", """{"users":[{"name":"b"},{"name":"a"}]}""");
        Assert.Equal("""{"users":[{"name":"a"},{"name":"b"},{"name":"a"}]}""", merged.ToJsonString());
    }

    [Fact]
    public void Lists_of_scalars_gain_only_new_items()
    {
        var merged = Merge("""{"install":{"bind_mounts":["/a","/b"]}}""", """{"install":{"bind_mounts":["/b","/c"]}}""");
        Assert.Equal("""{"install":{"bind_mounts":["/a","/b","/c"]}}""", merged.ToJsonString());
    }

    [Fact]
    public void Stages_of_every_file_are_kept_in_order()
    {
        var merged = Merge(
            """{"stages":{"boot":[{"commands":["one"]}],"initramfs":[{"name":"x"}]}}""",
            """{"stages":{"boot":[{"commands":["two"]}],"network":[{"name":"y"}]}}""");
        Assert.Equal(
            """{"stages":{"boot":[{"commands":["one"]},{"commands":["two"]}],"initramfs":[{"name":"x"}],"network":[{"name":"y"}]}}""",
            merged.ToJsonString());
    }

    [Fact]
    public void A_null_empties_the_earlier_value_but_never_the_stages()
    {
        var warnings = new List<string>();
        var merged = Merge("""{"users":[{"name":"a"}],"install":{"auto":true},"hostname":"a","stages":{"boot":[{}]}}""", """{"users":null,"install":null,"hostname":null,"stages":null}""", warnings);
        Assert.Equal("""{"users":[],"install":{},"hostname":null,"stages":{"boot":[{}]}}""", merged.ToJsonString());
        Assert.Single(warnings);
    }

    [Fact]
    public void A_type_clash_warns_and_the_later_value_wins_except_for_stages()
    {
        var warnings = new List<string>();
        var merged = Merge("""{"install":{"device":"x"},"stages":{"boot":[]}}""", """{"install":["y"],"stages":["z"]}""", warnings);
        Assert.Equal("""{"install":["y"],"stages":{"boot":[]}}""", merged.ToJsonString());
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("$.install: a list replaces the earlier mapping", warnings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void The_later_tree_is_copied_not_moved()
    {
        var later = JsonNode.Parse("""{"a":{"b":1}}""")!.AsObject();
        var target = new JsonObject();
        ConfigMerger.MergeInto(target, later);
        Assert.Equal(1, later["a"]!["b"]!.GetValue<int>());
        Assert.NotSame(later["a"], target["a"]);
    }
}
