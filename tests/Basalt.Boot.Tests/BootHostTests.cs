using Basalt.Boot.CommandLine;
using Basalt.Boot.Grub;
using Basalt.Boot.Mounting;
using Basalt.Config.Stages;
using Basalt.Testing;

namespace Basalt.Boot.Tests;

public sealed class BootHostTests
{
    [Fact]
    public async Task Failure_handler_points_grub_at_the_next_entry_then_reboots()
    {
        using var temp = new TempDirectory("failover");
        var runner = new RecordingToolRunner();
        runner.Devices["LABEL=COS_OEM"] = "/dev/vda2";
        var console = new RecordingConsole();
        var waited = TimeSpan.Zero;
        var handler = new RebootFailureHandler(runner, console, temp.Path, (delay, _) => { waited += delay; return Task.CompletedTask; });
        var action = new FailureAction { NextEntry = "fallback", EnvironmentDevice = DeviceReference.Label("COS_OEM"), Description = "reboot into passive" };

        await handler.HandleAsync(action, "require-image: /cOS/active.img does not exist");

        Assert.Equal(
        [
            "blkid -c /dev/null -o device -t LABEL=COS_OEM",
            $"mount -o rw /dev/vda2 {temp.Path}",
            $"umount {temp.Path}",
            "reboot -f",
        ], runner.Calls);
        var environment = GrubEnvironment.Load(temp.Combine("grubenv"));
        Assert.Equal("fallback", environment.Get(GrubEnvironmentKeys.NextEntry));
        Assert.Equal("require-image: /cOS/active.img does not exist", environment.Get(GrubEnvironmentKeys.LastFailure));
        Assert.Equal(TimeSpan.FromSeconds(5), waited);
    }

    [Fact]
    public async Task Failure_handler_keeps_an_existing_grubenv_and_reboots_even_without_oem()
    {
        using var temp = new TempDirectory("failover");
        var existing = GrubEnvironment.Create();
        existing.Set(GrubEnvironmentKeys.ExtraCmdline, "quiet");
        existing.Save(temp.Combine("grubenv"));
        var runner = new RecordingToolRunner();
        runner.Devices["LABEL=COS_OEM"] = "/dev/vda2";
        var handler = new RebootFailureHandler(runner, new RecordingConsole(), temp.Path, (_, _) => Task.CompletedTask);

        await handler.HandleAsync(new FailureAction { NextEntry = "recovery", EnvironmentDevice = DeviceReference.Label("COS_OEM"), Description = "x" }, "boom");

        var environment = GrubEnvironment.Load(temp.Combine("grubenv"));
        Assert.Equal("quiet", environment.Get(GrubEnvironmentKeys.ExtraCmdline));
        Assert.Equal("recovery", environment.Get(GrubEnvironmentKeys.NextEntry));

        var noOem = new RecordingToolRunner();
        var console = new RecordingConsole();
        await new RebootFailureHandler(noOem, console, temp.Path, (_, _) => Task.CompletedTask)
            .HandleAsync(new FailureAction { NextEntry = "recovery", EnvironmentDevice = DeviceReference.Label("COS_OEM"), Description = "x" }, "boom");
        Assert.Equal("reboot -f", noOem.Calls[^1]);
        Assert.Contains(console.Lines, l => l.StartsWith("warn: could not set next_entry=recovery", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stage_runner_runs_the_stage_of_the_config_under_the_new_root_in_process()
    {
        using var temp = new TempDirectory("stage-root");
        var root = temp.Path;
        Directory.CreateDirectory(temp.Combine("oem"));
        File.WriteAllText(temp.Combine("oem", "10_stage.yaml"), """
            #cloud-config
            stages:
              rootfs:
                - name: mark the root
                  files:
                    - path: /run/marker
                      content: from the rootfs stage
            """);
        var console = new RecordingConsole();
        var stages = new ConfigStageRunner(new ConfigStages(new RecordingToolRunner()), console);

        await stages.RunAsync("rootfs", root, "root=LABEL=COS_ACTIVE");
        await stages.RunAsync("initramfs", root, string.Empty);

        Assert.Equal("from the rootfs stage", File.ReadAllText(temp.Combine("run", "marker")));
        Assert.Contains("info: stage rootfs: ran 1 step(s)", console.Lines);
        Assert.Contains("info: stage initramfs: no steps", console.Lines);
    }

    [Fact]
    public async Task Stage_runner_reports_failing_steps_as_a_typed_error()
    {
        using var temp = new TempDirectory("stage-root");
        Directory.CreateDirectory(temp.Combine("oem"));
        File.WriteAllText(temp.Combine("oem", "10_stage.yaml"), """
            #cloud-config
            stages:
              initramfs:
                - name: break
                  commands:
                    - false
            """);
        var runner = new RecordingToolRunner();
        runner.Failing.Add("chroot");
        var stages = new ConfigStageRunner(new ConfigStages(runner), new RecordingConsole());

        var error = await Assert.ThrowsAsync<BootStageFailedException>(() => stages.RunAsync("initramfs", temp.Path, string.Empty));

        Assert.Equal("initramfs", error.Stage);
        Assert.Contains("break", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kernel_log_console_writes_one_record_per_line_with_a_priority()
    {
        using var temp = new TempDirectory("kmsg");
        var kmsg = temp.Combine("kmsg");
        File.WriteAllText(kmsg, string.Empty);
        using var error = new StringWriter();
        var console = new KernelLogConsole(kmsg, error);

        console.Info("mounting");
        console.Error("failed");

        Assert.Equal("<6>basalt: mounting\n<2>basalt: failed\n", File.ReadAllText(kmsg));
        Assert.Equal($"basalt: mounting{Environment.NewLine}basalt: failed{Environment.NewLine}", error.ToString());
    }

    [Fact]
    public void Host_files_write_whole_files_and_see_dangling_symlinks()
    {
        using var temp = new TempDirectory("hostfiles");
        var files = new HostBootFiles();
        var fstab = temp.Combine("sysroot", "etc", "fstab");

        files.WriteAllText(fstab, "tmpfs /run/overlay tmpfs size=25% 0 0\n");
        File.CreateSymbolicLink(temp.Combine("init"), "/nonexistent/systemd");

        Assert.Equal("tmpfs /run/overlay tmpfs size=25% 0 0\n", File.ReadAllText(fstab));
        Assert.True(files.Exists(temp.Combine("init")));
        Assert.False(files.Exists(temp.Combine("missing")));
        files.CreateDirectory(temp.Combine("a.seeding"));
        files.MoveDirectory(temp.Combine("a.seeding"), temp.Combine("a.bind"));
        Assert.True(files.DirectoryExists(temp.Combine("a.bind")));
    }
}

public sealed class BootFailureUnitsTests
{
    [Fact]
    public void Emergency_and_rescue_reboot_instead_of_waiting()
    {
        Assert.Equal(
            ["/etc/systemd/system/emergency.service.d/basalt-reboot.conf", "/etc/systemd/system/rescue.service.d/basalt-reboot.conf"],
            BootFailureUnits.Files.Keys.Order(StringComparer.Ordinal));
        foreach (var content in BootFailureUnits.Files.Values)
        {
            Assert.Contains("[Service]\nExecStart=\nExecStart=-/bin/sh -c", content, StringComparison.Ordinal);
            Assert.Contains("systemctl --force reboot", content, StringComparison.Ordinal);
        }
    }
}
