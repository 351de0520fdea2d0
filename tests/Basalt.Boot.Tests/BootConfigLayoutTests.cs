using Basalt.Boot.CommandLine;
using Basalt.Boot.Mounting;
using Basalt.Config;
using Basalt.Testing;

namespace Basalt.Boot.Tests;

/// <summary>The two phases of the boot: mount what holds the config, read it, plan the rest with its layout settings.</summary>
public sealed class BootConfigLayoutTests
{
    private const string Active = "root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img";

    private static readonly MountLayout SmallLayout = MountLayout.Default with { PersistentPaths = ["/etc/ssh", "/home"] };

    private static ConfigLayoutSettings Settings(string[] bind, string[] ephemeral, params string[] problems) => new(bind, ephemeral, problems);

    private static MountPlan Plan(ConfigLayoutSettings settings, string cmdline = Active, MountLayout? layout = null) =>
        BootPlanner.Plan(BootParameters.Parse(cmdline), layout ?? MountLayout.Default, settings);

    private static int IndexOf(MountPlan plan, string id) => plan.Steps.ToList().FindIndex(s => s.Id == id);

    [Fact]
    public void Phase_one_mounts_root_oem_and_persistent_before_the_config_is_read()
    {
        var plan = BootPlanner.Plan(Active, MountLayout.Default);

        var read = Assert.IsType<ReadConfigStep>(plan.Steps[plan.ReadConfigIndex()]);
        Assert.Equal("/sysroot", read.Root);
        Assert.False(read.Required);
        var index = plan.ReadConfigIndex();
        foreach (var mounted in new[] { "mount-root", "mount-oem", "mount-persistent", "stage-rootfs" })
        {
            Assert.True(IndexOf(plan, mounted) < index, mounted);
        }

        Assert.True(IndexOf(plan, "mount-overlay-base") > index);
        Assert.All(plan.Steps.Where(s => s is MountOverlayStep or PersistentBindStep), s => Assert.True(IndexOf(plan, s.Id) > index, s.Id));
    }

    [Fact]
    public void Config_bind_mounts_get_seeded_bind_directories_and_ephemeral_mounts_get_overlays()
    {
        var plan = Plan(Settings(["/var/lib/mydata", "/etc/myapp"], ["/var/cache/scratch"]));

        var bind = Assert.IsType<PersistentBindStep>(Assert.Single(plan.Steps, s => s.Id == "bind-var-lib-mydata"));
        Assert.Equal(("/var/lib/mydata", "/sysroot/usr/local/.state/var-lib-mydata.bind", "/sysroot/var/lib/mydata"), (bind.Path, bind.StateDirectory, bind.Target));
        Assert.Contains("seeded from the image on first use", MountPlanRenderer.Describe(bind), StringComparison.Ordinal);
        Assert.Single(plan.Steps, s => s.Id == "bind-etc-myapp");
        var overlay = Assert.IsType<MountOverlayStep>(Assert.Single(plan.Steps, s => s.Id == "overlay-var-cache-scratch"));
        Assert.Equal(("/sysroot/var/cache/scratch", "/run/overlay/var-cache-scratch/.overlay/upper"), (overlay.Target, overlay.UpperDirectory));
        // Parents before children: the overlay of /var/cache/scratch goes on the /var overlay, the binds after both.
        Assert.True(IndexOf(plan, "overlay-var-cache-scratch") > IndexOf(plan, "overlay-var"));
        Assert.True(IndexOf(plan, "bind-var-lib-mydata") > IndexOf(plan, "overlay-var-cache-scratch"));
        Assert.Equal(["/var/lib/mydata", "/etc/myapp"], plan.Layout.CustomBindMounts);
        Assert.Equal(["/var/cache/scratch"], plan.Layout.CustomEphemeralMounts);
        Assert.Empty(plan.ConfigProblems);
        Assert.Contains(plan.Notes, n => n.Contains("install.bind_mounts", StringComparison.Ordinal) && n.Contains("/var/lib/mydata", StringComparison.Ordinal));
        var fstab = Assert.IsType<WriteFstabStep>(Assert.Single(plan.Steps, s => s.Id == "write-fstab"));
        Assert.Contains(fstab.Entries, e => e.Format() == "/usr/local/.state/var-lib-mydata.bind\t/var/lib/mydata\tnone\tdefaults,bind\t0\t0");
    }

    [Theory]
    [InlineData(new[] { "/etc" }, new string[0], "install.bind_mounts: '/etc' ignored: '/etc' is both persistent")]
    [InlineData(new[] { "/usr" }, new string[0], "install.bind_mounts: '/usr' ignored")]
    [InlineData(new[] { "/usr/local" }, new string[0], "volume mount point")]
    [InlineData(new[] { "/my data" }, new string[0], "not a usable mount path")]
    [InlineData(new string[0], new[] { "/home/scratch" }, "install.ephemeral_mounts: '/home/scratch' ignored: the ephemeral path '/home/scratch' lies inside the persistent path '/home'")]
    [InlineData(new string[0], new[] { "/var/log" }, "'/var/log' is both persistent (bind mount) and ephemeral")]
    [InlineData(new string[0], new[] { "/usr" }, "would hide the volume mounted at /usr/local")]
    public void Conflicting_config_paths_are_left_out_with_a_message_and_the_rest_applies(string[] bind, string[] ephemeral, string expected)
    {
        var plan = Plan(Settings([.. bind, "/var/lib/good"], [.. ephemeral, "/var/cache/good"]));

        var problem = Assert.Single(plan.ConfigProblems);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Contains(plan.Steps, s => s.Id == "bind-var-lib-good");
        Assert.Contains(plan.Steps, s => s.Id == "overlay-var-cache-good");
        Assert.Equal(["/var/lib/good"], plan.Layout.CustomBindMounts);
        Assert.Equal(["/var/cache/good"], plan.Layout.CustomEphemeralMounts);
        Assert.Contains("config problem: " + problem, MountPlanRenderer.ToText(plan), StringComparison.Ordinal);
    }

    [Fact]
    public void An_ephemeral_path_over_a_command_line_volume_is_left_out()
    {
        var plan = Plan(Settings([], ["/mnt"]), Active + " rd.cos.mount=LABEL=DATA:/mnt/data");

        Assert.Contains("would hide the volume mounted at /mnt/data", Assert.Single(plan.ConfigProblems), StringComparison.Ordinal);
        Assert.DoesNotContain(plan.Steps, s => s is MountOverlayStep { Target: "/sysroot/mnt" });
    }

    [Fact]
    public void Problems_found_while_reading_the_config_are_kept_and_defaults_apply()
    {
        var plan = Plan(Settings([], [], "/oem/bad.yaml:3:1: error: $: not valid YAML"));

        Assert.Equal(["/oem/bad.yaml:3:1: error: $: not valid YAML"], plan.ConfigProblems);
        Assert.Equal(BootPlanner.Plan(Active, MountLayout.Default).Steps.Select(s => s.Id), plan.Steps.Select(s => s.Id));
    }

    [Theory]
    [InlineData(Active)]
    [InlineData(Active + " rd.cos.mount=LABEL=LOGS:/var/log/big rd.cos.mount=LABEL=DATA:/data")]
    [InlineData("root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs")]
    [InlineData("root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs")]
    public void Phase_one_is_the_same_whatever_the_config_says(string cmdline)
    {
        var before = BootPlanner.Plan(cmdline, MountLayout.Default);
        var after = BootPlanner.Replan(before, Settings(["/var/lib/mydata", "/data/keep"], ["/var/log/big/tmp", "/var/cache/x", "/opt/scratch"]));

        var index = before.ReadConfigIndex();
        Assert.True(index > 0);
        Assert.Equal(index, after.ReadConfigIndex());
        static string Line(MountStep s) => $"{s.Id} {s.Required} {MountPlanRenderer.Describe(s)}";
        Assert.Equal(before.Steps.Take(index).Select(Line), after.Steps.Take(index).Select(Line));
    }

    [Fact]
    public void A_volume_inside_an_ephemeral_path_is_mounted_on_its_overlay_after_the_config()
    {
        var plan = BootPlanner.Plan(Active + " rd.cos.mount=LABEL=LOGS:/var/log/big", MountLayout.Default);

        var mount = IndexOf(plan, "mount-volume-1");
        Assert.True(mount > plan.ReadConfigIndex());
        Assert.True(mount > IndexOf(plan, "overlay-var"));
    }

    [Fact]
    public void The_layout_and_problems_round_trip_through_json()
    {
        var plan = Plan(Settings(["/var/lib/mydata"], ["/var/cache/x"], "a problem"));

        var back = MountPlanRenderer.FromJson(MountPlanRenderer.ToJson(plan));

        Assert.Equal(plan.Layout.CustomBindMounts, back.Layout.CustomBindMounts);
        Assert.Equal(plan.Layout.CustomEphemeralMounts, back.Layout.CustomEphemeralMounts);
        Assert.Equal(plan.Layout.Volumes, back.Layout.Volumes);
        Assert.Equal(plan.ConfigProblems, back.ConfigProblems);
        Assert.Equal(plan.Steps.Select(s => s.Id), BootPlanner.Replan(back, ConfigLayoutSettings.Empty).Steps.Select(s => s.Id));
    }

    [Fact]
    public async Task The_executor_reads_the_config_once_phase_one_is_mounted_and_carries_out_its_layout()
    {
        var (runner, files, console, stages) = HealthyDisk();
        var reader = new FixedConfigReader(Settings(["/var/lib/mydata"], ["/var/cache/scratch"], "/oem/bad.yaml: invalid: not applied"));
        var executor = new MountPlanExecutor(runner, files, console, stages, new RecordingFailureHandler(), (_, _) => Task.CompletedTask, reader);
        var plan = BootPlanner.Plan(Active, SmallLayout);

        var result = await executor.ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal([("/sysroot", Active)], reader.Reads);
        Assert.Equal(["/var/lib/mydata"], result.Plan!.Layout.CustomBindMounts);
        var calls = runner.Calls;
        var persistent = calls.IndexOf("mount -t ext4 -o rw /dev/vda5 /sysroot/usr/local");
        var scratch = calls.IndexOf("mount -t overlay -o lowerdir=/sysroot/var/cache/scratch,upperdir=/run/overlay/var-cache-scratch/.overlay/upper,workdir=/run/overlay/var-cache-scratch/.overlay/work overlay /sysroot/var/cache/scratch");
        var mydata = calls.IndexOf("mount --bind /sysroot/usr/local/.state/var-lib-mydata.bind /sysroot/var/lib/mydata");
        Assert.True(persistent >= 0 && scratch > persistent && mydata > scratch, string.Join("\n", calls));
        Assert.Contains("mkdir /sysroot/usr/local/.state/var-lib-mydata.bind.seeding", files.Operations);
        Assert.Contains("mv /sysroot/usr/local/.state/var-lib-mydata.bind.seeding /sysroot/usr/local/.state/var-lib-mydata.bind", files.Operations);
        Assert.Contains(console.Lines, l => l == "warn: cloud-config: /oem/bad.yaml: invalid: not applied");
        Assert.Contains(console.Lines, l => l == "info: cloud-config: persistent bind mount /var/lib/mydata");
        Assert.Contains(result.Steps, s => s is { Id: "read-config", Status: StepStatus.Done });
        Assert.Contains(files.Files["/sysroot/etc/fstab"].Split('\n'), l => l == "/usr/local/.state/var-lib-mydata.bind\t/var/lib/mydata\tnone\tdefaults,bind\t0\t0");
    }

    [Fact]
    public async Task A_config_reader_that_fails_leaves_the_planned_layout_and_the_boot_goes_on()
    {
        var (runner, files, console, stages) = HealthyDisk();
        var executor = new MountPlanExecutor(runner, files, console, stages, new RecordingFailureHandler(), (_, _) => Task.CompletedTask, new ThrowingConfigReader());
        var plan = BootPlanner.Plan(Active, SmallLayout);

        var result = await executor.ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Same(plan, result.Plan);
        Assert.Contains(console.Lines, l => l.StartsWith("warn: cloud-config: the disk went away", StringComparison.Ordinal));
        Assert.Contains("mount --bind /sysroot/usr/local/.state/home.bind /sysroot/home", runner.Calls);
        Assert.NotNull(result.Handover);
    }

    [Fact]
    public async Task At_boot_the_config_on_oem_and_persistent_under_the_new_root_shapes_the_mounts_and_a_bad_file_is_only_reported()
    {
        using var sysroot = new TempDirectory("sysroot");
        Write(sysroot.Combine("oem/90_custom.yaml"), "#cloud-config\ninstall:\n  bind_mounts:\n    - /var/lib/mydata\n");
        Write(sysroot.Combine("usr/local/cloud-config/50_scratch.yaml"), "#cloud-config\ninstall:\n  ephemeral_mounts: [/var/cache/scratch, relative]\n");
        Write(sysroot.Combine("oem/99_broken.yaml"), "#cloud-config\ninstall: [unclosed\n");
        Write(sysroot.Combine("etc/kairos/10_types.yaml"), "#cloud-config\ninstall:\n  bind_mounts: 42\n");
        var (runner, files, console, stages) = HealthyDisk(sysroot.Path);
        var executor = new MountPlanExecutor(runner, files, console, stages, new RecordingFailureHandler(), (_, _) => Task.CompletedTask, new CloudConfigReader());
        var plan = BootPlanner.Plan(Active, SmallLayout with { Sysroot = sysroot.Path });

        var result = await executor.ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal(["/var/lib/mydata"], result.Plan!.Layout.CustomBindMounts);
        Assert.Equal(["/var/cache/scratch"], result.Plan.Layout.CustomEphemeralMounts);
        Assert.Contains($"mount --bind {sysroot.Path}/usr/local/.state/var-lib-mydata.bind {sysroot.Path}/var/lib/mydata", runner.Calls);
        var warnings = console.Lines.Where(l => l.StartsWith("warn: cloud-config: ", StringComparison.Ordinal)).ToList();
        // Sources are named as the node sees them, not by the initramfs path of the new root.
        Assert.Contains(warnings, w => w.Contains("/oem/99_broken.yaml", StringComparison.Ordinal) && w.Contains("error", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("/etc/kairos/10_types.yaml", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("install.ephemeral_mounts: 'relative'", StringComparison.Ordinal));
        Assert.DoesNotContain(warnings, w => w.Contains(sysroot.Path, StringComparison.Ordinal));
        Assert.Equal([$"rootfs@{sysroot.Path}", $"initramfs@{sysroot.Path}"], stages.Runs);
    }

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private static (RecordingToolRunner Runner, MemoryBootFiles Files, RecordingConsole Console, RecordingStages Stages) HealthyDisk(string sysroot = "/sysroot")
    {
        var runner = new RecordingToolRunner();
        runner.Devices["LABEL=COS_STATE"] = "/dev/vda4";
        runner.Devices["LABEL=COS_OEM"] = "/dev/vda2";
        runner.Devices["LABEL=COS_PERSISTENT"] = "/dev/vda5";
        var files = new MemoryBootFiles(runner.Calls);
        files.Files["/run/initramfs/cos-state/cOS/active.img"] = "ext4 image";
        files.Files[sysroot + "/sbin/init"] = "systemd";
        return (runner, files, new RecordingConsole(), new RecordingStages());
    }

    private sealed class ThrowingConfigReader : IBootConfigReader
    {
        public Task<ConfigLayoutSettings> ReadLayoutAsync(string root, string commandLine, CancellationToken cancellationToken = default) =>
            throw new IOException("the disk went away");
    }
}
