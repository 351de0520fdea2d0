using System.Text.Json;
using Basalt.Boot.Grub;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

public sealed class BootCommandTests
{
    private const string ActiveCmdline = "BOOT_IMAGE=(loop0)/boot/vmlinuz root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img boot=basalt console=ttyS0 panic=5";

    [Fact]
    public async Task Boot_plan_prints_the_active_plan_as_text_with_the_image_and_the_sysroot()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "plan", "--cmdline", ActiveCmdline, "--sysroot", "/root");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("/cOS/active.img", run.Stdout);
        Assert.Contains("/root", run.Stdout);
        Assert.Contains("COS_STATE", run.Stdout);
    }

    [Fact]
    public async Task Boot_plan_as_json_names_the_mode_and_lists_steps()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "plan", "--cmdline", ActiveCmdline.Replace("COS_ACTIVE", "COS_PASSIVE").Replace("active.img", "passive.img"), "--output", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Contains("passive", document.RootElement.GetProperty("mode").GetString()!, StringComparison.OrdinalIgnoreCase);
        Assert.True(document.RootElement.GetProperty("steps").GetArrayLength() > 3);
    }

    [Fact]
    public async Task A_contradictory_command_line_is_a_clear_error_without_a_stack_trace()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "plan", "--cmdline", "root=LABEL=COS_ACTIVE cos-img/filename=/cOS/passive.img");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error:", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public async Task Boot_plan_with_a_config_shows_its_bind_and_ephemeral_mounts_and_its_problems()
    {
        using var directory = new TempDirectory("boot-plan");
        var first = directory.Combine("90_layout.yaml");
        File.WriteAllText(first, "#cloud-config\ninstall:\n  bind_mounts:\n    - /var/lib/mydata\n    - /etc\n  ephemeral_mounts:\n    - /var/cache/scratch\n");
        var broken = directory.Combine("99_broken.yaml");
        File.WriteAllText(broken, "#cloud-config\ninstall: [unclosed\n");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "plan", "--cmdline", ActiveCmdline, "--config", first, "--config", broken);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("bind /sysroot/usr/local/.state/var-lib-mydata.bind -> /sysroot/var/lib/mydata (seeded from the image on first use)", run.Stdout);
        Assert.Contains("mount -t overlay overlay -o lowerdir=/sysroot/var/cache/scratch,upperdir=/run/overlay/var-cache-scratch/.overlay/upper", run.Stdout);
        Assert.Contains("read the cloud-config under /sysroot", run.Stdout);
        Assert.Contains("config problem: install.bind_mounts: '/etc' ignored", run.Stdout);
        Assert.Contains("config problem: " + broken, run.Stdout);
        Assert.DoesNotContain("bind-etc ", run.Stdout);
    }

    [Fact]
    public async Task Boot_plan_with_a_config_as_json_carries_the_layout()
    {
        using var directory = new TempDirectory("boot-plan");
        var config = directory.Combine("layout.yaml");
        File.WriteAllText(config, "install:\n  bind_mounts: [/var/lib/mydata]\n");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "plan", "--cmdline", ActiveCmdline, "--config", config, "--output", "json");

        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stdout);
        var custom = document.RootElement.GetProperty("layout").GetProperty("customBindMounts");
        Assert.Equal("/var/lib/mydata", Assert.Single(custom.EnumerateArray()).GetString());
        Assert.Contains(document.RootElement.GetProperty("steps").EnumerateArray(), s => s.GetProperty("id").GetString() == "bind-var-lib-mydata");
    }

    [Fact]
    public async Task Boot_plan_with_a_missing_config_file_is_a_usage_error()
    {
        using var directory = new TempDirectory("boot-plan");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "plan", "--cmdline", ActiveCmdline, "--config", directory.Combine("missing.yaml"));

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("missing.yaml", run.Stderr);
    }

    [Fact]
    public async Task Mark_good_resets_the_try_counters_in_the_grub_environment()
    {
        using var directory = new TempDirectory("grubenv");
        var path = directory.Combine("grubenv");
        var environment = GrubEnvironment.Create();
        BootAssessment.Arm(environment, 3);
        environment.Set(GrubEnvironmentKeys.ActiveTriesLeft, "1");
        environment.Save(path);

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "mark-good", "--grubenv", path, "--node-root", directory.Path);

        Assert.Equal(0, run.ExitCode);
        var after = GrubEnvironment.Load(path);
        Assert.Null(after.Get(GrubEnvironmentKeys.ActiveTriesLeft));
    }

    [Fact]
    public async Task Mark_good_without_a_grub_environment_says_where_it_looked()
    {
        using var directory = new TempDirectory("grubenv");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "boot", "mark-good", "--grubenv", directory.Combine("missing"), "--node-root", directory.Path);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(directory.Combine("missing"), run.Stderr);
        Assert.Contains("hint:", run.Stderr);
    }
}
