using Basalt.Config.Collection;
using Basalt.Config.Stages;
using Basalt.Testing;

namespace Basalt.Config.Tests.Stages;

/// <summary>The entry point install, upgrade, reset and run-stage share: collect the node's config, run a stage against a root.</summary>
public sealed class ConfigStagesTests
{
    private static void Write(TempDirectory root, string path, string text)
    {
        var host = root.Combine(path.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        File.WriteAllText(host, text);
    }

    private static ConfigStages Stages(StageHarness target) => new(target.Tools, ownership: target.Ownership);

    [Fact]
    public async Task A_chroot_lifecycle_stage_runs_the_nodes_config_against_the_target_root()
    {
        using var node = new TempDirectory("node");
        using var target = new StageHarness();
        Write(node, "/oem/90_custom.yaml", """
            #cloud-config
            stages:
              before-upgrade:
                - files:
                    - path: /etc/before
                      content: not now
              after-upgrade-chroot:
                - name: mark the new system
                  files:
                    - path: /etc/upgraded-by
                      content: basalt
                      permissions: 0640
            """);

        var result = await Stages(target).RunAsync("after-upgrade-chroot", new ConfigCollectorOptions { Root = node.Path }, target.Options());

        Assert.True(result.Succeeded);
        Assert.Equal("basalt", target.Read("/etc/upgraded-by"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, target.Mode("/etc/upgraded-by"));
        Assert.False(File.Exists(target.Host("/etc/before")));
        Assert.False(File.Exists(node.Combine("etc/upgraded-by")));
        var step = Assert.Single(result.Run.Steps);
        Assert.Equal(("after-upgrade-chroot", "/oem/90_custom.yaml", "mark the new system"), (step.Stage, step.Source, step.Step));
        Assert.Equal(["/oem/90_custom.yaml"], result.Config.Sources);
    }

    [Fact]
    public async Task An_invalid_config_file_is_left_out_and_reported_while_the_others_run()
    {
        using var node = new TempDirectory("node");
        using var target = new StageHarness();
        Write(node, "/oem/10_broken.yaml", "#cloud-config\nstages: [unclosed\n");
        Write(node, "/usr/local/cloud-config/20_good.yaml", "#cloud-config\nstages:\n  before-upgrade:\n    - files:\n        - path: /etc/good\n          content: good\n");

        var result = await Stages(target).RunAsync("before-upgrade", new ConfigCollectorOptions { Root = node.Path }, target.Options());

        Assert.True(result.Succeeded);
        Assert.Equal("good", target.Read("/etc/good"));
        Assert.Contains(result.Config.Skipped, s => s.Source == "/oem/10_broken.yaml");
        Assert.True(result.Config.HasErrors);
    }

    [Fact]
    public async Task A_boot_stage_runs_before_itself_and_after_over_every_file_and_the_cloud_init_keys_first()
    {
        using var node = new TempDirectory("node");
        using var target = new StageHarness();
        Write(node, "/etc/kairos/a.yaml", "#cloud-config\nruncmd:\n  - echo cloud-init\nstages:\n  boot.after:\n    - name: a-after\n  boot:\n    - name: a-boot\n");
        Write(node, "/oem/b.yaml", "#cloud-config\nstages:\n  boot.before:\n    - name: b-before\n  boot:\n    - name: b-boot\n");

        var result = await Stages(target).RunAsync("boot", new ConfigCollectorOptions { Root = node.Path }, target.Options());

        Assert.Equal(["boot.before", "boot", "boot", "boot", "boot.after"], result.Run.Steps.Select(s => s.Stage));
        Assert.Equal(["b-before", "a-boot", "b-boot", "a-after"], result.Run.Steps.Where(s => s.Source != "merged config").Select(s => s.Step));
        Assert.Equal("merged config", result.Run.Steps[1].Source);
        Assert.Contains(target.Tools.CommandLines, c => c.Contains("echo cloud-init", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_already_merged_config_runs_as_it_is()
    {
        using var node = new TempDirectory("node");
        using var target = new StageHarness();
        var merged = await new ConfigCollector().CollectAsync(new ConfigCollectorOptions
        {
            Root = node.Path,
            Inputs = [new ConfigInput("stages:\n  after-install:\n    - files:\n        - path: /etc/installed\n          content: done\n", "--config install.yaml")],
        }, CancellationToken.None);

        var result = await Stages(target).RunAsync("after-install", merged, target.Options(dryRun: true));

        Assert.True(result.Succeeded);
        Assert.Equal(StepStatus.Planned, Assert.Single(result.Run.Steps).Status);
        Assert.False(File.Exists(target.Host("/etc/installed")));
        Assert.Same(merged, result.Config);
    }

    [Fact]
    public async Task An_unknown_stage_is_refused_before_anything_is_read()
    {
        using var target = new StageHarness();
        var error = await Assert.ThrowsAsync<UnknownStageException>(() =>
            Stages(target).RunAsync("after-upgrade-chrot", new ConfigCollectorOptions { Root = "/nonexistent" }, target.Options()));
        Assert.Contains("after-upgrade-chroot", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sources_are_the_cloud_init_keys_then_each_files_stages_in_merge_order()
    {
        var merged = await new ConfigCollector().CollectAsync(new ConfigCollectorOptions
        {
            Root = "/nonexistent",
            Inputs =
            [
                new ConfigInput("hostname: node1\nstages:\n  fs:\n    - name: one\n", "one.yaml"),
                new ConfigInput("stages:\n  fs:\n    - name: two\n", "two.yaml"),
            ],
        }, CancellationToken.None);

        var sources = ConfigStages.Sources(merged);

        Assert.Equal(["merged config", "one.yaml", "two.yaml"], sources.Select(s => s.Origin));
        Assert.Null(sources[0].Config["stages"]);
        Assert.Equal("node1", sources[0].Config["hostname"]!.GetValue<string>());
    }
}
