using System.Text.Json.Nodes;

namespace Basalt.Config.Tests;

public sealed class KeyPathTests
{
    [Theory]
    [InlineData("install.device", "install.device")]
    [InlineData(".install.no-format", "install.no-format")]
    [InlineData("stages.boot[0].commands[1]", "stages.boot[0].commands[1]")]
    [InlineData("k3s-agent.args[2]", "k3s-agent.args[2]")]
    public void Valid_paths_parse_and_print_back(string text, string expected)
    {
        Assert.True(KeyPath.TryParse(text, out var path, out var error), error);
        Assert.Equal(expected, path.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("a..b")]
    [InlineData("a.")]
    [InlineData("[0]")]
    [InlineData("a[x]")]
    [InlineData("a b")]
    [InlineData("a[256]")]
    public void Invalid_paths_are_refused_with_a_reason(string text)
    {
        Assert.False(KeyPath.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Find_and_exists_tell_a_null_value_from_a_missing_key()
    {
        var root = JsonNode.Parse("""{"a":{"b":null,"c":[1,{"d":"x"}]}}""");
        Assert.True(KeyPath.Parse("a.b").Exists(root));
        Assert.Null(KeyPath.Parse("a.b").Find(root));
        Assert.False(KeyPath.Parse("a.z").Exists(root));
        Assert.Equal("x", KeyPath.Parse("a.c[1].d").Find(root)!.GetValue<string>());
        Assert.Null(KeyPath.Parse("a.c[5]").Find(root));
    }

    [Fact]
    public void Set_replaces_a_scalar_in_the_way()
    {
        var root = JsonNode.Parse("""{"install":"oops"}""")!.AsObject();
        KeyPath.Parse("install.device").Set(root, JsonValue.Create("/dev/vda"));
        Assert.Equal("""{"install":{"device":"/dev/vda"}}""", root.ToJsonString());
    }
}
