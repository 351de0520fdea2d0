using Basalt.Build.Init;
using Basalt.Config.Stages;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Init;

public sealed class InitFilesTests
{
    [Fact]
    public void The_network_file_asks_for_dhcp_on_wired_interfaces()
    {
        var text = InitFiles.WiredNetwork();
        Assert.Contains("[Match]\nName=en* eth*\n", text, StringComparison.Ordinal);
        Assert.Contains("[Network]\nDHCP=yes\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_wired_network_keeps_the_address_a_netbooted_initramfs_configured()
    {
        // Without it systemd-networkd drops that foreign address at start, and the boot stage's config_url fetch finds no network.
        Assert.Contains("\nKeepConfiguration=static\n", InitFiles.WiredNetwork(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_boot_complete_unit_runs_mark_good_after_the_health_gate_only_when_the_binary_is_there()
    {
        var text = InitFiles.BootCompleteService();
        Assert.Contains("ConditionFileIsExecutable=/usr/bin/basalt\n", text, StringComparison.Ordinal);
        Assert.Contains("Requires=boot-complete.target\n", text, StringComparison.Ordinal);
        Assert.Contains("After=boot-complete.target", text, StringComparison.Ordinal);
        Assert.Contains("ExecStart=/usr/bin/basalt boot mark-good\n", text, StringComparison.Ordinal);
        Assert.Equal(["multi-user.target"], SystemdUnits.ParseInstall(text).WantedBy);
    }

    [Theory]
    [InlineData("fs", "sysinit.target")]
    [InlineData("boot", "multi-user.target")]
    [InlineData("network", "multi-user.target")]
    public void Stage_units_run_their_stage_and_never_fail_the_boot(string stage, string wantedBy)
    {
        var text = InitFiles.StageService(stage);
        Assert.Contains($"ExecStart=-/usr/bin/basalt run-stage {stage}\n", text, StringComparison.Ordinal);
        Assert.Contains("ConditionFileIsExecutable=/usr/bin/basalt\n", text, StringComparison.Ordinal);
        Assert.Equal([wantedBy], SystemdUnits.ParseInstall(text).WantedBy);
    }

    [Fact]
    public void The_network_stage_waits_for_the_network()
    {
        var text = InitFiles.StageService("network");
        Assert.Contains("Wants=network-online.target\nAfter=network-online.target", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_network_stage_never_holds_up_multi_user_target()
    {
        // multi-user.target orders itself after what it wants unless the wanted unit has no default dependencies.
        var text = InitFiles.StageService("network");
        Assert.Contains("DefaultDependencies=no\n", text, StringComparison.Ordinal);
        Assert.Contains("Conflicts=shutdown.target\nBefore=shutdown.target\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Before=multi-user.target", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Reconcile_runs_from_a_timer()
    {
        Assert.Contains("ExecStart=-/usr/bin/basalt run-stage reconcile\n", InitFiles.ReconcileServiceUnit(), StringComparison.Ordinal);
        Assert.Contains("OnUnitActiveSec=", InitFiles.ReconcileTimerUnit(), StringComparison.Ordinal);
        Assert.Equal(["timers.target"], SystemdUnits.ParseInstall(InitFiles.ReconcileTimerUnit()).WantedBy);
        Assert.Throws<ArgumentOutOfRangeException>(() => InitFiles.StageService("reconcile"));
    }

    [Fact]
    public void The_systemd_units_and_the_mounter_together_run_every_boot_stage_each_with_before_and_after()
    {
        Assert.Equal(StageNames.Boot.Order(StringComparer.Ordinal), InitFiles.SystemdStages.Concat(["rootfs", "initramfs", "reconcile"]).Order(StringComparer.Ordinal));
        foreach (var stage in InitFiles.SystemdStages.Append("reconcile"))
        {
            var unit = stage == "reconcile" ? InitFiles.ReconcileServiceUnit() : InitFiles.StageService(stage);
            // No --root: the stage acts on the running system and run-stage merges /proc/cmdline into its config.
            Assert.Equal([$"ExecStart=-/usr/bin/basalt run-stage {stage}"], unit.Split('\n').Where(l => l.StartsWith("ExecStart=", StringComparison.Ordinal)));
            Assert.Equal([stage + ".before", stage, stage + ".after"], StageNames.Expand(stage));
        }
    }

    [Fact]
    public void Stage_units_run_in_kairos_order_fs_before_sysinit_then_boot_then_network()
    {
        static string[] Values(string unit, string key) =>
            unit.Split('\n').Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).SelectMany(l => l[(key.Length + 1)..].Split(' ')).ToArray();

        Assert.Contains("sysinit.target", Values(InitFiles.StageService("fs"), "Before"));
        Assert.Contains("local-fs.target", Values(InitFiles.StageService("fs"), "After"));
        Assert.Contains(InitFiles.StageUnitName("fs"), Values(InitFiles.StageService("boot"), "After"));
        Assert.Contains(InitFiles.StageUnitName("boot"), Values(InitFiles.StageService("network"), "After"));
        Assert.Contains("network-online.target", Values(InitFiles.StageService("network"), "Wants"));
        Assert.Contains("RemainAfterExit=yes", InitFiles.StageService("boot"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_initramfs_hook_copies_basalt_and_busybox()
    {
        var text = InitFiles.InitramfsHook();
        Assert.StartsWith("#!/bin/sh\n", text, StringComparison.Ordinal);
        Assert.Contains(". /usr/share/initramfs-tools/hook-functions\n", text, StringComparison.Ordinal);
        Assert.Contains("copy_exec /usr/bin/basalt /usr/bin/basalt\n", text, StringComparison.Ordinal);
        Assert.Contains("copy_exec \"$tool\" /bin/busybox", text, StringComparison.Ordinal);
        Assert.Contains("prereqs)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_boot_script_hands_the_root_to_the_mounter_and_reboots_on_failure()
    {
        var text = InitFiles.InitramfsBootScript();
        Assert.Contains("mountroot()\n", text, StringComparison.Ordinal);
        Assert.Contains("/usr/bin/basalt boot mount --sysroot \"${rootmnt}\"\n", text, StringComparison.Ordinal);
        Assert.Contains("reboot -f\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("panic ", text, StringComparison.Ordinal); // initramfs-tools' panic may open a shell
    }

    [Theory]
    [InlineData("scripts")]
    [InlineData("hook")]
    public async Task The_shell_files_are_valid_sh(string which)
    {
        using var temp = new TempDirectory("init-sh");
        var path = temp.Combine("script");
        File.WriteAllText(path, which == "hook" ? InitFiles.InitramfsHook() : InitFiles.InitramfsBootScript());
        var result = await new ToolRunner().RunAsync(new ToolInvocation("sh", ["-n", path]) { SuccessExitCodes = [0, 1, 2] });
        Assert.True(result.ExitCode == 0, $"sh -n rejected the {which}: {result.StandardError}");
    }

    [Fact]
    public void The_modules_file_lists_what_the_mounter_needs()
    {
        var lines = InitFiles.InitramfsModulesFile().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();
        Assert.Equal(["loop", "squashfs", "overlay", "ext4", "vfat", "iso9660", "virtio_blk", "virtio_pci", "virtio_scsi", "nvme", "ahci", "sd_mod", "sr_mod"], lines);
        Assert.Contains("MODULES=most\n", InitFiles.InitramfsConf(), StringComparison.Ordinal);
        Assert.Contains("BUSYBOX=y\n", InitFiles.InitramfsConf(), StringComparison.Ordinal);
    }

    [Fact]
    public void Fstab_mounts_only_tmp()
    {
        var entries = InitFiles.Fstab().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();
        Assert.Equal(["tmpfs /tmp tmpfs defaults,nosuid,nodev,mode=1777 0 0"], entries);
    }

    [Fact]
    public void Os_release_merge_replaces_in_place_appends_new_keys_and_quotes()
    {
        var original = OsRelease.Parse("# comment\nID=debian\nBASALT_VERSION=\"0.1\"\nNAME='Debian'\n");
        var merged = original.With([new("BASALT_VERSION", "0.2"), new("BASALT_IMAGE_REF", "r/o:\"x\"$y")]);
        Assert.Equal("# comment\nID=debian\nBASALT_VERSION=\"0.2\"\nNAME='Debian'\nBASALT_IMAGE_REF=\"r/o:\\\"x\\\"\\$y\"\n", merged.ToString());
        Assert.Equal("r/o:\"x\"$y", merged.Get("BASALT_IMAGE_REF"));
        Assert.Equal("Debian", merged.Get("NAME"));
    }

    [Theory]
    [InlineData("root:$6$abc:1:0:99999:7:::", "root:!$6$abc:1:0:99999:7:::")]
    [InlineData("root::1:0:99999:7:::", "root:!*:1:0:99999:7:::")]
    [InlineData("root:*:1:0:99999:7:::", "root:*:1:0:99999:7:::")]
    [InlineData("root:!$6$abc:1:0:99999:7:::", "root:!$6$abc:1:0:99999:7:::")]
    public void Root_password_is_locked_unless_configured(string line, string expected)
    {
        Assert.Equal(expected + "\nbin:*:1::::::\n", ShadowFile.WithRootPassword(line + "\nbin:*:1::::::\n", null));
        Assert.StartsWith("root:$6$new:", ShadowFile.WithRootPassword(line, "$6$new"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("6.1.0-9-amd64", "6.1.0-10-amd64")]
    [InlineData("5.15.0-100-generic", "6.8.0-1-generic")]
    [InlineData("6.1.0-50-amd64", "6.1.0-50-rt-amd64")]
    public void Kernel_versions_compare_numerically(string older, string newer) =>
        Assert.True(KernelVersionComparer.Instance.Compare(older, newer) < 0);

    [Fact]
    public void Dpkg_status_counts_only_installed_packages()
    {
        var installed = AptPackageManager.ParseStatus(
            "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok config-files\n\nPackage: c\nStatus: install ok not-installed\n\nPackage: d\nStatus: install ok half-installed\n");
        Assert.Equal(["a"], installed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_image_ships_the_boot_menu_and_asks_for_the_basalt_boot_script()
    {
        var menu = InitFiles.GrubMenu();
        Assert.Contains("menuentry", menu, StringComparison.Ordinal);
        Assert.Contains("/boot/vmlinuz", menu, StringComparison.Ordinal);
        Assert.Contains("set bootargs=\"boot=basalt\"", InitFiles.GrubBootArguments(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_auto_install_unit_runs_only_on_a_live_boot_and_installs_only_when_the_config_says_install_auto()
    {
        var text = InitFiles.AutoInstallService();
        Assert.Contains("ConditionPathExists=/run/cos/live_mode\n", text, StringComparison.Ordinal);
        Assert.Contains($"ExecStart=/usr/bin/basalt install --if-auto --work-dir {InitFiles.AutoInstallWorkDirectory}\n", text, StringComparison.Ordinal);
        Assert.Contains($"mount -t tmpfs", text, StringComparison.Ordinal);
        Assert.Contains($"After=local-fs.target {InitFiles.StageUnitName("boot")}\n", text, StringComparison.Ordinal);
        Assert.Equal(["multi-user.target"], SystemdUnits.ParseInstall(text).WantedBy);
        Assert.Contains("mtools", Basalt.Build.Init.AptPackageManager.BasePackages);
    }

    [Fact]
    public void A_netboot_initramfs_has_curl_and_brings_the_network_up_only_when_a_live_url_is_given()
    {
        Assert.Contains("copy_exec \"$directory/curl\" /usr/lib/basalt/bin/curl", InitFiles.InitramfsHook(), StringComparison.Ordinal);
        var script = InitFiles.InitramfsBootScript();
        Assert.Contains("if grep -q \"basalt.live.url=\" /proc/cmdline; then\n\t\tconfigure_networking\n", script, StringComparison.Ordinal);
        Assert.True(script.IndexOf("configure_networking", StringComparison.Ordinal) < script.IndexOf("boot mount --sysroot", StringComparison.Ordinal));
        Assert.Contains("curl", Basalt.Build.Init.AptPackageManager.BasePackages);
    }
}
