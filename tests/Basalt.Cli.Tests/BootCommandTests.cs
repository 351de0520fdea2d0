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
