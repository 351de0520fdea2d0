using System.Text.Json;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

public sealed class StageCommandTests
{
    private const string Config = """
        #cloud-config
        hostname: edge-1
        stages:
          fs:
          - name: motd
            files:
            - path: /etc/motd
              permissions: 0600
              content: hello
            environment:
              EDGE: "1"
        """;

    [Fact]
    public async Task Run_stage_applies_the_steps_to_the_root_and_prints_each_one()
    {
        using var root = new TempDirectory("run-stage");
        var config = root.Combine("config.yaml");
        await File.WriteAllTextAsync(config, Config);
        var target = Directory.CreateDirectory(root.Combine("target")).FullName;

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "fs", "--root", target, "--config", config);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("applied  fs  " + config + "  motd", run.Stdout, StringComparison.Ordinal);
        Assert.Equal("hello", await File.ReadAllTextAsync(Path.Combine(target, "etc/motd")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "etc/motd")));
        Assert.Equal("EDGE=\"1\"\n", await File.ReadAllTextAsync(Path.Combine(target, "etc/environment")));
    }

    [Fact]
    public async Task Dry_run_as_json_lists_planned_steps_and_writes_nothing()
    {
        using var root = new TempDirectory("run-stage");
        var config = root.Combine("config.yaml");
        await File.WriteAllTextAsync(config, Config);
        var target = Directory.CreateDirectory(root.Combine("target")).FullName;

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "initramfs", "--root", target, "--config", config, "--dry-run", "--output", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        var step = Assert.Single(document.RootElement.GetProperty("steps").EnumerateArray());
        Assert.Equal("planned", step.GetProperty("status").GetString());
        Assert.Contains("edge-1", step.GetProperty("actions")[0].GetString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Fact]
    public async Task A_failing_step_exits_one_and_says_which()
    {
        using var root = new TempDirectory("run-stage");
        var config = root.Combine("config.yaml");
        await File.WriteAllTextAsync(config, """
            stages:
              boot:
              - name: keys
                authorized_keys:
                  nobody-here: ["ssh-rsa K"]
            """);
        var target = Directory.CreateDirectory(root.Combine("target")).FullName;

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "boot", "--root", target, "--config", config);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("failed   boot  " + config + "  keys", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("nobody-here", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_config_the_files_of_the_scan_directories_under_the_root_run()
    {
        using var root = new TempDirectory("run-stage");
        Directory.CreateDirectory(root.Combine("oem"));
        await File.WriteAllTextAsync(root.Combine("oem", "90_custom.yaml"), Config);

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "initramfs", "--root", root.Path);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("edge-1\n", await File.ReadAllTextAsync(root.Combine("etc", "hostname")));
    }

    [Fact]
    public async Task Without_config_the_command_line_is_merged_after_the_files_and_its_stages_run_with_before_and_after()
    {
        using var root = new TempDirectory("run-stage");
        Directory.CreateDirectory(root.Combine("oem"));
        await File.WriteAllTextAsync(root.Combine("oem", "90_custom.yaml"), "#cloud-config\nstages:\n  boot.before:\n  - name: first\n  boot.after:\n  - name: last\n");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "boot", "--root", root.Path, "--dry-run",
            "--cmdline", "root=LABEL=COS_ACTIVE stages.boot[0].name=from-cmdline", "--output", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        var steps = document.RootElement.GetProperty("steps").EnumerateArray().Select(s => (s.GetProperty("stage").GetString(), s.GetProperty("step").GetString())).ToList();
        Assert.Equal([("boot.before", "first"), ("boot", "from-cmdline"), ("boot.after", "last")], steps);
    }

    [Fact]
    public async Task An_unknown_stage_or_a_missing_config_is_a_clear_error()
    {
        using var root = new TempDirectory("run-stage");
        var config = root.Combine("config.yaml");
        await File.WriteAllTextAsync(config, "stages: {}\n");

        var unknown = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "bootz", "--root", root.Path, "--config", config);
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("unknown stage 'bootz'", unknown.Stderr, StringComparison.Ordinal);

        var missing = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "run-stage", "boot", "--root", root.Path, "--config", root.Combine("nope.yaml"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nope.yaml", missing.Stderr, StringComparison.Ordinal);
    }
}
