using System.Text.Json.Nodes;
using Basalt.Config.Model;
using Basalt.Config.Yaml;

namespace Basalt.Config.Tests.Model;

public sealed class ConfigValidatorTests
{
    private static ConfigValidation Validate(string yaml) => ConfigValidator.Validate(YamlDocumentLoader.Load(yaml, "c.yaml"));

    [Fact]
    public void Values_go_yaml_accepts_for_typed_fields_are_normalised()
    {
        var validation = Validate("""
            install:
              auto: yes
              reboot: "off"
              partitions:
                oem:
                  size: "64"
                state:
                  size: 2048.0
            hostname: 1234
            users:
              - name: kairos
                uid: 1000
            """);
        Assert.Empty(validation.Issues);
        var config = validation.Config!;
        Assert.True(config.Install!.Auto);
        Assert.False(config.Install.Reboot);
        Assert.Equal(64, config.Install.Partitions!.Oem!.Size);
        Assert.Equal(2048, config.Install.Partitions.State!.Size);
        Assert.Equal("1234", config.Hostname);
        Assert.Equal("1000", config.Users![0].Uid);
        Assert.True(validation.Document.Root["install"]!["auto"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("install:\n  device: [a]\n", "$.install.device", "expected a string, found a list", 2, 11)]
    [InlineData("install:\n  partitions:\n    oem:\n      size: -5\n", "$.install.partitions.oem.size", "expected a non-negative integer", 4, 13)]
    [InlineData("install:\n  partitions:\n    oem:\n      size: 1.5\n", "$.install.partitions.oem.size", "expected an integer, found the number 1.5", 4, 13)]
    [InlineData("grub_options:\n  extra_cmdline: [x]\n", "$.grub_options.extra_cmdline", "expected a string", 2, 18)]
    [InlineData("users:\n  - name: a\n  - 7\n", "$.users[1]", "expected a mapping, found the number 7", 3, 5)]
    [InlineData("stages: [a]\n", "$.stages", "expected a mapping, found a list", 1, 9)]
    [InlineData("k3s: true\n", "$.k3s", "expected a mapping, found the boolean true", 1, 6)]
    public void Type_errors_name_the_path_the_position_and_what_was_expected(string yaml, string path, string message, int line, int column)
    {
        var validation = Validate(yaml);
        var issue = Assert.Single(validation.Issues);
        Assert.Equal(ConfigIssueSeverity.Error, issue.Severity);
        Assert.Equal(path, issue.Path);
        Assert.Contains(message, issue.Message, StringComparison.Ordinal);
        Assert.Equal(new SourcePosition("c.yaml", line, column), issue.Position);
        Assert.Null(validation.Config);
    }

    [Fact]
    public void Unknown_keys_are_warnings_at_the_key_and_kept_in_extra()
    {
        var validation = Validate("custom_thing:\n  a: 1\ninstall:\n  devise: /dev/vda\n");
        Assert.Equal(2, validation.Issues.Count);
        Assert.All(validation.Issues, i => Assert.Equal(ConfigIssueSeverity.Warning, i.Severity));
        Assert.Equal(new SourcePosition("c.yaml", 4, 3), validation.Issues[1].Position);
        Assert.Contains("did you mean 'device'", validation.Issues[1].Message, StringComparison.Ordinal);
        Assert.True(validation.IsValid(strict: false));
        Assert.False(validation.IsValid(strict: true));
        Assert.Equal(1, validation.Config!.Extra!["custom_thing"]!["a"]!.GetValue<int>());
    }

    [Fact]
    public void Stages_are_kept_as_written_for_the_stage_runner()
    {
        var validation = Validate("stages:\n  boot:\n    - name: x\n      anything: [1, 2]\n");
        Assert.Empty(validation.Issues);
        Assert.Equal("""{"boot":[{"name":"x","anything":[1,2]}]}""", validation.Config!.Stages!.ToJsonString());
    }

    [Fact]
    public void Nulls_mean_unset()
    {
        var validation = Validate("install:\n  device:\n  partitions: ~\nusers:\n");
        Assert.Empty(validation.Issues);
        Assert.Null(validation.Config!.Install!.Device);
        Assert.Null(validation.Config.Users);
    }
}
