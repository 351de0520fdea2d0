using System.Text.Json;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

public sealed class ConfigCommandTests
{
    private static TempDirectory NodeRoot()
    {
        var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("oem"));
        Directory.CreateDirectory(root.Combine("etc", "kairos"));
        File.WriteAllText(root.Combine("etc", "kairos", "10-base.yaml"), "#cloud-config\nhostname: base\ninstall:\n  device: /dev/sda\nstages:\n  boot:\n    - commands: [echo one]\n");
        File.WriteAllText(root.Combine("oem", "90-custom.yaml"), "#cloud-config\nhostname: edge-1\nstages:\n  boot:\n    - commands: [echo two]\n");
        return root;
    }

    [Fact]
    public async Task Show_prints_the_merged_yaml_with_its_sources_in_order()
    {
        using var root = NodeRoot();
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "show", "--root", root.Path, "--cmdline", "root=LABEL=COS_ACTIVE install.device=/dev/vda");

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("#cloud-config\n# Sources:\n# - /etc/kairos/10-base.yaml\n# - /oem/90-custom.yaml\n# - cmdline\n", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("hostname: edge-1", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("device: /dev/vda", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("echo one", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("echo two", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("root:", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_as_json_has_sources_issues_and_config()
    {
        using var root = NodeRoot();
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "show", "--root", root.Path, "--cmdline", "", "--output", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Equal(2, document.RootElement.GetProperty("sources").GetArrayLength());
        Assert.Equal("edge-1", document.RootElement.GetProperty("config").GetProperty("hostname").GetString());
        Assert.Equal(2, document.RootElement.GetProperty("config").GetProperty("stages").GetProperty("boot").GetArrayLength());
    }

    [Fact]
    public async Task Get_prints_one_value_and_fails_for_a_missing_key()
    {
        using var root = NodeRoot();
        var found = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "get", "install.device", "--root", root.Path, "--cmdline", "");
        Assert.Equal(0, found.ExitCode);
        Assert.Equal("/dev/sda\n", found.Stdout);

        var missing = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "get", "install.partitions.oem.size", "--root", root.Path, "--cmdline", "");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("install.partitions.oem.size is not set", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_reports_file_line_column_and_exits_1_on_errors()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("bad.yaml");
        File.WriteAllText(path, "#cloud-config\ninstall:\n  auto: maybe\n");
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "validate", path);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"{path}:3:9: error: $.install.auto: expected true or false", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_passes_with_warnings_unless_strict()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("warn.yaml");
        File.WriteAllText(path, "#cloud-config\nhostnme: typo\n");

        var lenient = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "validate", path);
        Assert.Equal(0, lenient.ExitCode);
        Assert.Contains("2:1: warning: $.hostnme: unknown key 'hostnme'", lenient.Stdout, StringComparison.Ordinal);

        var strict = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "validate", path, "--strict", "--output", "json");
        Assert.Equal(1, strict.ExitCode);
        using var document = JsonDocument.Parse(strict.Stdout);
        Assert.False(document.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(2, document.RootElement.GetProperty("issues")[0].GetProperty("line").GetInt32());
    }

    [Fact]
    public async Task Schema_prints_a_json_schema_of_the_model()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "config", "schema");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        var install = document.RootElement.GetProperty("properties").GetProperty("install");
        Assert.True(install.GetProperty("properties").TryGetProperty("no-format", out _));
        Assert.True(install.GetProperty("properties").TryGetProperty("bind_mounts", out _));
    }
}
