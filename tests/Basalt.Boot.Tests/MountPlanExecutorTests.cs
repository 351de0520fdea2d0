using Basalt.Boot.Mounting;

namespace Basalt.Boot.Tests;

public sealed class MountPlanExecutorTests
{
    private readonly RecordingToolRunner _runner = new();
    private readonly MemoryBootFiles _files;
    private readonly RecordingConsole _console = new();
    private readonly RecordingStages _stages = new();
    private readonly RecordingFailureHandler _failure = new();
    private int _delays;

    public MountPlanExecutorTests()
    {
        _files = new MemoryBootFiles(_runner.Calls);
    }

    private MountPlanExecutor Executor() =>
        new(_runner, _files, _console, _stages, _failure, (_, _) => { _delays++; return Task.CompletedTask; });

    private static readonly MountLayout SmallLayout = MountLayout.Default with { PersistentPaths = ["/etc/ssh", "/home"] };

    private void HealthyDisk(string image)
    {
        _runner.Devices["LABEL=COS_STATE"] = "/dev/vda4";
        _runner.Devices["LABEL=COS_RECOVERY"] = "/dev/vda3";
        _runner.Devices["LABEL=COS_OEM"] = "/dev/vda2";
        _runner.Devices["LABEL=COS_PERSISTENT"] = "/dev/vda5";
        _files.Files[image] = "ext4 image";
        _files.Files["/sysroot/sbin/init"] = "systemd";
        _files.Directories.Add("/sysroot/etc/ssh");
    }

    [Fact]
    public async Task Active_runs_the_exact_command_sequence_and_hands_over()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal(
        [
            "blkid -c /dev/null -o device -t LABEL=COS_STATE",
            "mount -t ext4 -o ro /dev/vda4 /run/initramfs/cos-state",
            "losetup --find --show --read-only /run/initramfs/cos-state/cOS/active.img",
            "mount -t ext4 -o ro /dev/loop0 /sysroot",
            "blkid -c /dev/null -o device -t LABEL=COS_OEM",
            "e2fsck -p /dev/vda2",
            "mount -t ext4 -o rw /dev/vda2 /sysroot/oem",
            "blkid -c /dev/null -o device -t LABEL=COS_PERSISTENT",
            "e2fsck -p /dev/vda5",
            "mount -t ext4 -o rw /dev/vda5 /sysroot/usr/local",
            "mount -t tmpfs -o size=25% tmpfs /run/overlay",
            "mount -t overlay -o lowerdir=/sysroot/etc,upperdir=/run/overlay/etc/.overlay/upper,workdir=/run/overlay/etc/.overlay/work overlay /sysroot/etc",
            "mount -t overlay -o lowerdir=/sysroot/srv,upperdir=/run/overlay/srv/.overlay/upper,workdir=/run/overlay/srv/.overlay/work overlay /sysroot/srv",
            "mount -t overlay -o lowerdir=/sysroot/var,upperdir=/run/overlay/var/.overlay/upper,workdir=/run/overlay/var/.overlay/work overlay /sysroot/var",
            "cp -a /sysroot/etc/ssh/. /sysroot/usr/local/.state/etc-ssh.bind.seeding/",
            "mount --bind /sysroot/usr/local/.state/etc-ssh.bind /sysroot/etc/ssh",
            "mount --bind /sysroot/usr/local/.state/home.bind /sysroot/home",
        ], _runner.Calls);
        Assert.Equal(["rootfs@/sysroot", "initramfs@/sysroot"], _stages.Runs);
        Assert.All(_stages.CommandLines, c => Assert.Equal(plan.CommandLine, c));
        Assert.Equal("1", _files.Files["/run/cos/active_mode"]);
        Assert.Contains("LABEL=COS_ACTIVE\t/\text4\tro\t0\t0\n", _files.Files["/sysroot/etc/fstab"], StringComparison.Ordinal);
        Assert.Equal(new SwitchRootStep("/sysroot", "/sbin/init") { Id = "switch-root" }, result.Handover);
        Assert.Equal("/dev/loop0", result.Slots["image"]);
        Assert.All(result.Steps, s => Assert.Equal(StepStatus.Done, s.Status));
        Assert.Empty(_failure.Handled);
        Assert.Contains(_console.Lines, l => l.StartsWith("info: [2/", StringComparison.Ordinal) && l.EndsWith("mount -t ext4 -o ro /dev/vda4 /run/initramfs/cos-state", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_persistent_copy_that_exists_is_never_reseeded()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        _files.Directories.Add("/sysroot/usr/local/.state/etc-ssh.bind");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE", SmallLayout);

        await Executor().ExecuteAsync(plan);

        Assert.DoesNotContain(_runner.Calls, c => c.StartsWith("cp ", StringComparison.Ordinal));
        Assert.DoesNotContain(_files.Operations, o => o.Contains("etc-ssh.bind.seeding", StringComparison.Ordinal));
        Assert.Contains("mount --bind /sysroot/usr/local/.state/etc-ssh.bind /sysroot/etc/ssh", _runner.Calls);
    }

    [Fact]
    public async Task First_use_seeds_into_a_sibling_and_renames_it_into_place()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        _files.Directories.Add("/sysroot/usr/local/.state/etc-ssh.bind.seeding");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE", SmallLayout);

        await Executor().ExecuteAsync(plan);

        var ops = _files.Operations;
        var cleanup = ops.IndexOf("rm -r /sysroot/usr/local/.state/etc-ssh.bind.seeding");
        var rename = ops.IndexOf("mv /sysroot/usr/local/.state/etc-ssh.bind.seeding /sysroot/usr/local/.state/etc-ssh.bind");
        Assert.True(cleanup >= 0 && rename > cleanup);
        // /home is not in the image: an empty persistent copy is created.
        Assert.Contains("mv /sysroot/usr/local/.state/home.bind.seeding /sysroot/usr/local/.state/home.bind", ops);
        Assert.DoesNotContain(_runner.Calls, c => c.StartsWith("cp -a /sysroot/home", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Recovery_squashfs_command_sequence()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/recovery.squashfs");
        var plan = BootPlanner.Plan("root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal(
        [
            "blkid -c /dev/null -o device -t LABEL=COS_RECOVERY",
            "mount -t ext4 -o ro /dev/vda3 /run/initramfs/cos-state",
            "losetup --find --show --read-only /run/initramfs/cos-state/cOS/recovery.squashfs",
            "mount -t squashfs -o ro /dev/loop0 /sysroot",
            "blkid -c /dev/null -o device -t LABEL=COS_OEM",
            "e2fsck -p /dev/vda2",
            "mount -t ext4 -o rw /dev/vda2 /sysroot/oem",
            "mount -t tmpfs -o size=25% tmpfs /run/overlay",
        ], _runner.Calls.Take(8));
        Assert.Equal(7, _runner.Calls.Count(c => c.StartsWith("mount -t overlay", StringComparison.Ordinal)));
        Assert.Equal(15, _runner.Calls.Count);
        Assert.DoesNotContain(_runner.Calls, c => c.Contains("COS_PERSISTENT", StringComparison.Ordinal) || c.Contains("--bind", StringComparison.Ordinal));
        Assert.Equal("1", _files.Files["/run/cos/recovery_mode"]);
    }

    [Fact]
    public async Task Passive_command_sequence_uses_passive_img()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/passive.img");
        var plan = BootPlanner.Plan("root=LABEL=COS_PASSIVE cos-img/filename=/cOS/passive.img", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal("losetup --find --show --read-only /run/initramfs/cos-state/cOS/passive.img", _runner.Calls[2]);
        Assert.Equal("1", _files.Files["/run/cos/passive_mode"]);
    }

    [Fact]
    public async Task Live_download_command_sequence()
    {
        _files.Files["/run/basalt/live/rootfs.squashfs"] = "squashfs";
        _files.Files["/sysroot/sbin/init"] = "systemd";
        var plan = BootPlanner.Plan("basalt.live.url=http://10.0.2.2:8080/rootfs.squashfs", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal(
        [
            "mount -t tmpfs -o size=90%,mode=0700 tmpfs /run/basalt/live",
            "curl --fail --silent --show-error --location --retry 5 --connect-timeout 10 --output /run/basalt/live/rootfs.squashfs http://10.0.2.2:8080/rootfs.squashfs",
            "curl --fail --silent --show-error --location --retry 5 --connect-timeout 10 --output /run/basalt/live/slots.json http://10.0.2.2:8080/slots.json",
            "losetup --find --show --read-only /run/basalt/live/rootfs.squashfs",
            "mount -t squashfs -o ro /dev/loop0 /sysroot",
            "mount -t tmpfs -o size=25% tmpfs /run/overlay",
        ], _runner.Calls.Take(6));
        Assert.Equal("1", _files.Files["/run/cos/live_mode"]);
    }

    [Fact]
    public async Task A_netboot_directory_without_a_slots_file_still_boots_live()
    {
        _files.Files["/run/basalt/live/rootfs.squashfs"] = "squashfs";
        _files.Files["/sysroot/sbin/init"] = "systemd";
        // curl --fail on the server's 404: a directory built from a tree (--root) names no image.
        _runner.Failing.Add("curl --fail --silent --show-error --location --retry 5 --connect-timeout 10 --output /run/basalt/live/slots.json");
        var plan = BootPlanner.Plan("basalt.live.url=http://10.0.2.2:8080/rootfs.squashfs", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal(StepStatus.Skipped, Assert.Single(result.Steps, s => s.Id == "download-live-slots").Status);
        Assert.Equal("1", _files.Files["/run/cos/live_mode"]);
    }

    [Fact]
    public async Task Live_iso_mounts_the_medium_read_only()
    {
        _runner.Devices["LABEL=COS_LIVE"] = "/dev/sr0";
        _files.Files["/run/initramfs/live/rootfs.squashfs"] = "squashfs";
        _files.Files["/sysroot/sbin/init"] = "systemd";
        var plan = BootPlanner.Plan("root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal("mount -t iso9660 -o ro /dev/sr0 /run/initramfs/live", _runner.Calls[1]);
    }

    [Fact]
    public async Task A_missing_image_fails_over_to_the_fallback_without_mounting_anything_else()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/passive.img");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.False(result.Succeeded);
        Assert.Null(result.Handover);
        Assert.Equal(StepStatus.Failed, result.Steps[^1].Status);
        Assert.Equal("require-image", result.Steps[^1].Id);
        var (action, reason) = Assert.Single(_failure.Handled);
        Assert.Equal("fallback", action.NextEntry);
        Assert.Contains("active.img", reason, StringComparison.Ordinal);
        Assert.Equal(2, _runner.Calls.Count);
        Assert.Contains(_console.Lines, l => l.StartsWith("error:", StringComparison.Ordinal) && l.Contains("active.img does not exist", StringComparison.Ordinal));
        Assert.Contains(_console.Lines, l => l.Contains("reboot into the passive system", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_state_partition_waits_then_fails_over_never_hangs()
    {
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE rd.immucore.sysrootwait=3", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.False(result.Succeeded);
        Assert.Equal(6, _runner.Calls.Count(c => c.Contains("LABEL=COS_STATE", StringComparison.Ordinal)));
        Assert.Equal(5, _delays);
        Assert.Single(_failure.Handled);
        Assert.Contains("COS_STATE", result.FailureReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_oem_partition_is_skipped_and_the_boot_goes_on()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        _runner.Devices.Remove("LABEL=COS_OEM");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE rd.cos.oemtimeout=1", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.True(result.Succeeded, result.FailureReason);
        Assert.Equal(StepStatus.Skipped, Assert.Single(result.Steps, s => s.Id == "find-oem").Status);
        Assert.Equal(StepStatus.Skipped, Assert.Single(result.Steps, s => s.Id == "mount-oem").Status);
        Assert.DoesNotContain(_runner.Calls, c => c.Contains("/sysroot/oem", StringComparison.Ordinal));
        Assert.Contains(_console.Lines, l => l.StartsWith("warn:", StringComparison.Ordinal) && l.Contains("${oem}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_root_mount_fails_over_with_the_tool_error()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        _runner.Failing.Add("mount -t ext4 -o ro /dev/loop0");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.False(result.Succeeded);
        Assert.Equal("mount-root", result.Steps[^1].Id);
        Assert.Contains("bad superblock", result.FailureReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_root_without_init_is_not_handed_over()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        _files.Files.Remove("/sysroot/sbin/init");
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.False(result.Succeeded);
        Assert.Equal("switch-root", result.Steps[^1].Id);
        Assert.Single(_failure.Handled);
    }

    [Fact]
    public async Task Duplicate_labels_are_warned_about_and_the_first_device_is_used()
    {
        HealthyDisk("/run/initramfs/cos-state/cOS/active.img");
        _runner.Devices["LABEL=COS_STATE"] = "/dev/vdb4\n/dev/vda4";
        var plan = BootPlanner.Plan("root=LABEL=COS_ACTIVE", SmallLayout);

        var result = await Executor().ExecuteAsync(plan);

        Assert.Equal("/dev/vda4", result.Slots["state"]);
        Assert.Contains(_console.Lines, l => l.StartsWith("warn:", StringComparison.Ordinal) && l.Contains("2 devices carry LABEL=COS_STATE", StringComparison.Ordinal));
    }
}
