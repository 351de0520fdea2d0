using System.Text.Json.Nodes;
using Basalt.Config.Stages;

namespace Basalt.Config.Tests.Stages;

public sealed class StageConfigFileTests
{
    [Fact]
    public void Yaml_scalars_resolve_as_yip_sees_them()
    {
        var config = StageConfigFile.Parse("""
            #cloud-config
            a: 0644
            b: "0644"
            c: 644
            d: true
            e: ~
            f: 1.5
            g: 0x10
            h: text
            """, "t.yaml");
        Assert.Equal(420, config["a"]!.GetValue<long>());
        Assert.Equal("0644", config["b"]!.GetValue<string>());
        Assert.Equal(644, config["c"]!.GetValue<long>());
        Assert.True(config["d"]!.GetValue<bool>());
        Assert.Null(config["e"]);
        Assert.Equal(1.5, config["f"]!.GetValue<double>());
        Assert.Equal(16, config["g"]!.GetValue<long>());
        Assert.Equal("text", config["h"]!.GetValue<string>());
    }

    [Fact]
    public void A_permissions_written_as_yaml_octal_reach_the_file_mode()
    {
        var config = StageConfigFile.Parse("stages:\n  boot:\n  - files:\n    - path: /x\n      permissions: 0600\n", "t.yaml");
        var file = StageParser.Parse(config["stages"], "t.yaml").StepsOf("boot")[0].Files[0];
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, file.Permissions);
    }

    [Fact]
    public void Alias_bombs_and_bad_yaml_are_refused_with_the_file_name()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(1, 8).Select(i =>
            $"{(char)('a' + i)}: &{(char)('a' + i)} [*{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}]\n"));
        Assert.Contains("aliases", Assert.Throws<StageConfigFileException>(() => StageConfigFile.Parse(bomb, "bomb.yaml")).Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.yaml: line", Assert.Throws<StageConfigFileException>(() => StageConfigFile.Parse("a: [", "bad.yaml")).Message, StringComparison.Ordinal);
        Assert.Contains("not a map", Assert.Throws<StageConfigFileException>(() => StageConfigFile.Parse("- a\n", "list.yaml")).Message, StringComparison.Ordinal);
    }
}
