using System.Text.Json.Nodes;
using Basalt.Config.Collection;

namespace Basalt.Config.Tests;

public sealed class ConfigSchemaTests
{
    [Fact]
    public void The_schema_is_generated_from_the_model_with_kairos_key_names()
    {
        var schema = (JsonObject)ConfigSchema.Generate();
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", schema["$schema"]!.GetValue<string>());
        Assert.Equal("object", schema["type"]!.GetValue<string>());
        var properties = schema["properties"]!.AsObject();
        foreach (var key in new[] { "install", "upgrade", "reset", "users", "stages", "hostname", "grub_options", "k3s", "k3s-agent", "p2p", "kcrypt", "logs", "config_url", "ssh_authorized_keys" })
        {
            Assert.True(properties.ContainsKey(key), $"schema lacks {key}");
        }

        var install = properties["install"]!["properties"]!.AsObject();
        foreach (var key in new[] { "device", "auto", "reboot", "poweroff", "no-format", "force", "source", "partitions", "extra-partitions", "bind_mounts", "ephemeral_mounts", "grub_options", "encrypted_partitions", "system", "recovery-system" })
        {
            Assert.True(install.ContainsKey(key), $"install lacks {key}");
        }

        var oem = install["partitions"]!["properties"]!["oem"]!["properties"]!.AsObject();
        Assert.Equal(["name", "size", "fs", "label"], oem.Select(p => p.Key));
        Assert.Contains("integer", oem["size"]!["type"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("MiB", oem["size"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("master_nodes", properties["p2p"]!["properties"]!["auto"]!["properties"]!["ha"]!["properties"]!.AsObject().Single(p => p.Key.StartsWith('m')).Key);
    }

    [Fact]
    public void Every_key_the_schema_names_is_one_the_command_line_may_set()
    {
        var properties = ((JsonObject)ConfigSchema.Generate())["properties"]!.AsObject().Select(p => p.Key).ToHashSet();
        Assert.Equal(properties.Order(), KernelCommandLine.KnownTopLevelKeys.Order());
    }
}
