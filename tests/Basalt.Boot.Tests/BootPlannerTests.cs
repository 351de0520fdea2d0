using Basalt.Boot;
using Basalt.Boot.CommandLine;
using Basalt.Boot.Mounting;

namespace Basalt.Boot.Tests;

public sealed class BootPlannerTests
{
    private const string Active = "console=ttyS0,115200 root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img rd.cos.oemlabel=COS_OEM rd.cos.oemtimeout=10";

    private static MountPlan Plan(string cmdline, MountLayout? layout = null) => BootPlanner.Plan(cmdline, layout ?? MountLayout.Default);

    private static T Step<T>(MountPlan plan, string id) where T : MountStep =>
        Assert.IsType<T>(Assert.Single(plan.Steps, s => s.Id == id));

    private static int IndexOf(MountPlan plan, string id) => plan.Steps.ToList().FindIndex(s => s.Id == id);

    [Fact]
    public void Active_mounts_state_image_oem_overlays_persistent_and_binds_in_order()
    {
        var plan = Plan(Active);

        Assert.Equal(BootMode.Active, plan.Mode);
        var ids = plan.Steps.Select(s => s.Id).ToList();
        Assert.Equal(
            ["find-state", "mount-state", "require-image", "attach-image", "mount-root", "write-mode-sentinel",
             "find-oem", "check-oem", "mount-oem", "stage-rootfs", "find-persistent", "check-persistent", "mount-persistent",
             "read-config", "mount-overlay-base", "overlay-etc", "overlay-srv", "overlay-var"],
            ids.Take(18));
        Assert.Equal(["write-fstab", "stage-initramfs", "switch-root"], ids.TakeLast(3));

        Assert.Equal(DeviceReference.Label("COS_STATE"), Step<FindDeviceStep>(plan, "find-state").Device);
        var state = Step<MountFileSystemStep>(plan, "mount-state");
        Assert.Equal(("${state}", "/run/initramfs/cos-state", "ext4"), (state.Source, state.Target, state.FileSystem));
        Assert.Equal(["ro"], state.Options);
        Assert.Equal("/run/initramfs/cos-state/cOS/active.img", Step<RequireFileStep>(plan, "require-image").Path);
        var attach = Step<AttachLoopStep>(plan, "attach-image");
        Assert.True(attach.ReadOnly);
        var root = Step<MountFileSystemStep>(plan, "mount-root");
        Assert.Equal(("${image}", "/sysroot", "ext4"), (root.Source, root.Target, root.FileSystem));
        Assert.Equal(["ro"], root.Options);
        Assert.Equal("/run/cos/active_mode", Step<WriteFileStep>(plan, "write-mode-sentinel").Path);
        Assert.Equal("/sysroot/oem", Step<MountFileSystemStep>(plan, "mount-oem").Target);
        Assert.Equal(["size=25%"], Step<MountFileSystemStep>(plan, "mount-overlay-base").Options);
        var persistent = Step<MountFileSystemStep>(plan, "mount-persistent");
        Assert.Equal(("${persistent}", "/sysroot/usr/local", true), (persistent.Source, persistent.Target, persistent.Required));
        Assert.Equal(["rw"], persistent.Options);
        var handover = Step<SwitchRootStep>(plan, "switch-root");
        Assert.Equal(("/sysroot", "/sbin/init"), (handover.NewRoot, handover.Init));
        Assert.Equal("fallback", plan.OnFailure.NextEntry);
    }

    [Fact]
    public void The_oem_partition_is_optional_but_state_and_image_are_not()
    {
        var plan = Plan(Active);

        Assert.False(Step<FindDeviceStep>(plan, "find-oem").Required);
        Assert.Equal(TimeSpan.FromSeconds(10), Step<FindDeviceStep>(plan, "find-oem").Timeout);
        Assert.False(Step<MountFileSystemStep>(plan, "mount-oem").Required);
        Assert.True(Step<FindDeviceStep>(plan, "find-state").Required);
        Assert.True(Step<RequireFileStep>(plan, "require-image").Required);
        Assert.True(Step<MountFileSystemStep>(plan, "mount-root").Required);
    }

    [Fact]
    public void Overlays_use_the_image_directory_as_lower_and_the_overlay_tmpfs_for_upper_and_work()
    {
        var overlay = Step<MountOverlayStep>(Plan(Active), "overlay-etc");

        Assert.Equal("/sysroot/etc", overlay.Target);
        Assert.Equal("/sysroot/etc", overlay.LowerDirectory);
        Assert.Equal("/run/overlay/etc/.overlay/upper", overlay.UpperDirectory);
        Assert.Equal("/run/overlay/etc/.overlay/work", overlay.WorkDirectory);
    }

    [Fact]
    public void Default_persistent_paths_match_kairos_and_use_its_bind_directory_names()
    {
        var plan = Plan(Active);
        var binds = plan.Steps.OfType<PersistentBindStep>().ToList();

        Assert.Equal(MountLayout.KairosPersistentPaths.Order(StringComparer.Ordinal), binds.Select(b => b.Path));
        var ssh = Assert.Single(binds, b => b.Path == "/etc/ssh");
        Assert.Equal("/sysroot/usr/local/.state/etc-ssh.bind", ssh.StateDirectory);
        Assert.Equal("/sysroot/etc/ssh", ssh.Target);
        Assert.Equal("/sysroot/usr/local/.state/var-lib-kubelet.bind", Assert.Single(binds, b => b.Path == "/var/lib/kubelet").StateDirectory);
        foreach (var path in new[] { "/etc/ssh", "/etc/rancher", "/etc/systemd", "/etc/iscsi", "/home", "/root", "/opt", "/var/lib/rancher", "/var/lib/kubelet", "/var/lib/containerd", "/var/lib/longhorn", "/var/lib/cni", "/var/lib/dbus", "/var/lib/extensions", "/var/log", "/usr/libexec" })
        {
            Assert.Contains(binds, b => b.Path == path);
        }

        // Binds come after the overlays and the persistent volume they live on.
        Assert.True(binds.All(b => IndexOf(plan, b.Id) > IndexOf(plan, "mount-persistent")));
        Assert.True(binds.All(b => IndexOf(plan, b.Id) > IndexOf(plan, "overlay-var")));
    }

    [Fact]
    public void Passive_boots_passive_img_and_fails_over_to_recovery()
    {
        var plan = Plan("root=LABEL=COS_PASSIVE cos-img/filename=/cOS/passive.img");

        Assert.Equal(BootMode.Passive, plan.Mode);
        Assert.Equal("/run/initramfs/cos-state/cOS/passive.img", Step<RequireFileStep>(plan, "require-image").Path);
        Assert.Equal("/run/cos/passive_mode", Step<WriteFileStep>(plan, "write-mode-sentinel").Path);
        Assert.Contains(plan.Steps, s => s.Id == "mount-persistent");
        Assert.Equal("recovery", plan.OnFailure.NextEntry);
    }

    [Fact]
    public void Recovery_squashfs_mounts_nothing_persistent_and_makes_everything_ephemeral()
    {
        var plan = Plan("root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs");

        Assert.Equal(BootMode.Recovery, plan.Mode);
        Assert.Equal(DeviceReference.Label("COS_RECOVERY"), Step<FindDeviceStep>(plan, "find-state").Device);
        Assert.Equal("/run/initramfs/cos-state/cOS/recovery.squashfs", Step<RequireFileStep>(plan, "require-image").Path);
        Assert.Equal("squashfs", Step<MountFileSystemStep>(plan, "mount-root").FileSystem);
        Assert.Equal("/run/cos/recovery_mode", Step<WriteFileStep>(plan, "write-mode-sentinel").Path);
        Assert.DoesNotContain(plan.Steps, s => s is PersistentBindStep || s.Id == "mount-persistent");
        Assert.Equal(
            ["/sysroot/etc", "/sysroot/home", "/sysroot/opt", "/sysroot/root", "/sysroot/srv", "/sysroot/usr/local", "/sysroot/var"],
            plan.Steps.OfType<MountOverlayStep>().Select(o => o.Target));
        Assert.Contains(plan.Steps, s => s.Id == "mount-oem");
        Assert.Equal("recovery", plan.OnFailure.NextEntry);
    }

    [Fact]
    public void Recovery_img_mounts_ext4_from_the_recovery_partition()
    {
        var plan = Plan("root=LABEL=COS_SYSTEM cos-img/filename=/cOS/recovery.img");

        Assert.Equal("/run/initramfs/cos-state/cOS/recovery.img", Step<RequireFileStep>(plan, "require-image").Path);
        Assert.Equal("ext4", Step<MountFileSystemStep>(plan, "mount-root").FileSystem);
    }

    [Fact]
    public void Statereset_writes_the_autoreset_sentinel()
    {
        var plan = Plan("root=live:LABEL=COS_RECOVERY rd.live.squashimg=/cOS/recovery.squashfs basalt.reset=unattended");

        Assert.True(plan.Reset);
        Assert.Equal("/run/cos/autoreset_mode", Step<WriteFileStep>(plan, "write-reset-sentinel").Path);
    }

    [Fact]
    public void Live_from_the_iso_mounts_the_medium_and_never_touches_oem_or_persistent()
    {
        var plan = Plan("root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs");

        Assert.Equal(BootMode.Live, plan.Mode);
        Assert.Equal(DeviceReference.Label("COS_LIVE"), Step<FindDeviceStep>(plan, "find-live-medium").Device);
        var medium = Step<MountFileSystemStep>(plan, "mount-live-medium");
        Assert.Equal(("/run/initramfs/live", "iso9660"), (medium.Target, medium.FileSystem));
        Assert.Equal("/run/initramfs/live/rootfs.squashfs", Step<RequireFileStep>(plan, "require-image").Path);
        Assert.Equal("/run/cos/live_mode", Step<WriteFileStep>(plan, "write-mode-sentinel").Path);
        Assert.DoesNotContain(plan.Steps, s => s.Id.Contains("oem", StringComparison.Ordinal) || s.Id.Contains("persistent", StringComparison.Ordinal) || s is PersistentBindStep);
        Assert.Null(plan.OnFailure.NextEntry);
    }

    [Fact]
    public void Live_from_a_url_downloads_into_ram_first()
    {
        var plan = Plan("basalt.live.url=http://10.0.2.2:8080/rootfs.squashfs");

        Assert.Equal(["mount-live-ram", "download-live"], plan.Steps.Take(2).Select(s => s.Id));
        var download = Assert.IsType<DownloadStep>(plan.Steps[1]);
        Assert.Equal("/run/basalt/live/rootfs.squashfs", download.Destination);
        Assert.Equal("/run/basalt/live/rootfs.squashfs", Step<RequireFileStep>(plan, "require-image").Path);
        Assert.Contains(plan.Notes, n => n.Contains("network", StringComparison.Ordinal));
    }

    [Fact]
    public void Live_from_a_url_also_fetches_the_slots_file_beside_the_squashfs_without_depending_on_it()
    {
        var plan = Plan("basalt.live.url=http://10.0.2.2:8080/images/rootfs.squashfs");

        var slots = Step<DownloadStep>(plan, "download-live-slots");
        Assert.Equal("http://10.0.2.2:8080/images/slots.json", slots.Url.AbsoluteUri);
        // Where the installer looks for the medium's slots file: beside the squashfs the live system runs from.
        Assert.Equal("/run/basalt/live/slots.json", slots.Destination);
        Assert.False(slots.Required);
        var ids = plan.Steps.Select(s => s.Id).ToList();
        Assert.True(ids.IndexOf("download-live") < ids.IndexOf("download-live-slots"));
    }

    [Fact]
    public void A_downloaded_squashfs_gets_a_tmpfs_of_its_own_because_the_initramfs_run_is_too_small()
    {
        // initramfs-tools mounts /run with size=10% of RAM: a 300 MB squashfs on a 2 GB node does not fit there.
        var plan = Plan("basalt.live.url=http://10.0.2.2:8080/rootfs.squashfs");

        var ram = Step<MountFileSystemStep>(plan, "mount-live-ram");
        Assert.Equal(("tmpfs", "/run/basalt/live", "tmpfs"), (ram.Source, ram.Target, ram.FileSystem));
        Assert.Contains("size=90%", ram.Options);
        Assert.StartsWith(ram.Target + "/", Step<DownloadStep>(plan, "download-live").Destination, StringComparison.Ordinal);
        Assert.True(plan.Steps.ToList().IndexOf(ram) < plan.Steps.ToList().FindIndex(s => s.Id == "download-live"));
    }

    [Fact]
    public void Custom_binds_ephemeral_mounts_and_volumes_from_layout_and_command_line()
    {
        var layout = MountLayout.Default with
        {
            CustomBindMounts = ["/var/lib/mydata/"],
            CustomEphemeralMounts = ["/var/cache/scratch"],
            Volumes = [.. MountLayout.Default.Volumes, new VolumeMount(DeviceReference.Label("DATA"), "/data") { Required = false }],
        };

        var plan = Plan(Active + " rd.cos.mount=UUID=beef:/mnt/extra", layout);

        var mine = Step<PersistentBindStep>(plan, "bind-var-lib-mydata");
        Assert.Equal("/sysroot/usr/local/.state/var-lib-mydata.bind", mine.StateDirectory);
        Assert.Equal("/sysroot/var/cache/scratch", Step<MountOverlayStep>(plan, "overlay-var-cache-scratch").Target);
        Assert.Equal("/sysroot/data", Step<MountFileSystemStep>(plan, "mount-volume-1").Target);
        Assert.False(Step<MountFileSystemStep>(plan, "mount-volume-1").Required);
        var extra = Step<FindDeviceStep>(plan, "find-volume-2");
        Assert.Equal(new DeviceReference(DeviceReferenceKind.Uuid, "beef"), extra.Device);
        Assert.Equal(["ro"], Step<MountFileSystemStep>(plan, "mount-volume-2").Options);
    }

    [Fact]
    public void The_fstab_describes_what_was_mounted_without_the_sysroot_prefix()
    {
        var fstab = Step<WriteFstabStep>(Plan(Active), "write-fstab");

        Assert.Equal("/sysroot/etc/fstab", fstab.Path);
        Assert.Contains(fstab.Entries, e => e.Format() == "LABEL=COS_ACTIVE\t/\text4\tro\t0\t0");
        Assert.Contains(fstab.Entries, e => e.Format() == "LABEL=COS_OEM\t/oem\text4\trw\t0\t0");
        Assert.Contains(fstab.Entries, e => e.Format() == "LABEL=COS_PERSISTENT\t/usr/local\text4\trw\t0\t0");
        Assert.Contains(fstab.Entries, e => e.Format() == "/usr/local/.state/etc-ssh.bind\t/etc/ssh\tnone\tdefaults,bind\t0\t0");
        Assert.Contains(fstab.Entries, e => e.Spec == "overlay" && e.File == "/etc");
        Assert.DoesNotContain(fstab.Entries, e => e.File.StartsWith("/sysroot", StringComparison.Ordinal) || e.Spec.StartsWith("/sysroot", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Active)]
    [InlineData("root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs")]
    [InlineData("root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs")]
    public void Every_mode_gets_a_writable_tmp_from_fstab_since_the_root_is_read_only(string cmdline)
    {
        var fstab = Step<WriteFstabStep>(Plan(cmdline), "write-fstab");

        Assert.Contains(fstab.Entries, e => e.Format() == "tmpfs\t/tmp\ttmpfs\tmode=1777,nosuid,nodev\t0\t0");
    }

    [Fact]
    public void A_layout_whose_overlays_cover_tmp_gets_no_second_tmp_mount()
    {
        var layout = MountLayout.Default with { EphemeralPaths = ["/var", "/etc", "/srv", "/tmp"] };

        var fstab = Step<WriteFstabStep>(Plan(Active, layout), "write-fstab");

        Assert.Single(fstab.Entries, e => e.File == "/tmp");
        Assert.Contains(fstab.Entries, e => e.Spec == "overlay" && e.File == "/tmp");
    }

    [Fact]
    public void Stage_hooks_run_rootfs_on_the_new_root_with_oem_and_initramfs_on_the_assembled_root_before_the_handover()
    {
        foreach (var cmdline in new[] { Active, "root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs" })
        {
            var plan = Plan(cmdline);

            var stages = plan.Steps.OfType<RunStageStep>().ToList();
            Assert.Equal([("rootfs", "/sysroot"), ("initramfs", "/sysroot")], stages.Select(s => (s.Stage, s.Root)));
            Assert.All(stages, s => Assert.False(s.Required));
            // rootfs: the new root and /oem are there (immucore's order), the overlays are not yet.
            Assert.True(IndexOf(plan, "stage-rootfs") > IndexOf(plan, "mount-root"));
            Assert.True(IndexOf(plan, "stage-rootfs") > IndexOf(plan, "mount-oem"));
            Assert.True(IndexOf(plan, "stage-rootfs") > IndexOf(plan, "write-mode-sentinel"));
            Assert.True(IndexOf(plan, "stage-rootfs") < IndexOf(plan, "mount-overlay-base"));
            // initramfs: everything is mounted and the fstab written; only the hand-over comes after it.
            var initramfs = IndexOf(plan, "stage-initramfs");
            Assert.Equal(plan.Steps.Count - 2, initramfs);
            Assert.All(plan.Steps.Take(initramfs), s => Assert.IsNotType<SwitchRootStep>(s));
            Assert.True(initramfs > plan.Steps.ToList().FindLastIndex(s => s is MountOverlayStep or PersistentBindStep or MountFileSystemStep));
            Assert.True(initramfs > IndexOf(plan, "write-fstab"));
            Assert.IsType<SwitchRootStep>(plan.Steps[^1]);
        }
    }

    [Fact]
    public void Overlay_on_a_device_and_debug_read_write_root()
    {
        var plan = Plan(Active + " rd.cos.overlay=LABEL=COS_OVERLAY rd.cos.debugrw");

        Assert.Equal(DeviceReference.Label("COS_OVERLAY"), Step<FindDeviceStep>(plan, "find-overlay").Device);
        Assert.Equal(["rw"], Step<MountFileSystemStep>(plan, "mount-root").Options);
        Assert.False(Step<AttachLoopStep>(plan, "attach-image").ReadOnly);
        Assert.Contains(plan.Notes, n => n.Contains("read-write", StringComparison.Ordinal));
    }

    [Fact]
    public void Disabled_mounter_plans_nothing()
    {
        var plan = Plan(Active + " rd.cos.disable");

        Assert.Empty(plan.Steps);
        Assert.Contains(plan.Notes, n => n.Contains("disabled", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/etc", "both persistent")]
    [InlineData("/usr/local", "volume mount point")]
    [InlineData("/usr", "volume mount point or one of its parents")]
    [InlineData("relative/path", "not a usable")]
    [InlineData("/a/../b", "not a usable")]
    public void Inconsistent_layouts_are_rejected(string bindPath, string expected)
    {
        var layout = MountLayout.Default with { CustomBindMounts = [bindPath] };

        var error = Assert.Throws<InvalidMountLayoutException>(() => Plan(Active, layout));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ephemeral_path_inside_a_persistent_one_is_rejected()
    {
        var layout = MountLayout.Default with { CustomEphemeralMounts = ["/home/scratch"] };

        var error = Assert.Throws<InvalidMountLayoutException>(() => Plan(Active, layout));

        Assert.Contains("would hide it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_state_target_on_no_volume_is_rejected()
    {
        var layout = MountLayout.Default with { Volumes = [] };

        Assert.Throws<InvalidMountLayoutException>(() => Plan(Active, layout));
    }

    [Fact]
    public void Bind_directory_names_follow_kairos()
    {
        Assert.Equal("etc-ssh.bind", MountLayout.BindDirectoryName("/etc/ssh"));
        Assert.Equal("var-lib-rancher.bind", MountLayout.BindDirectoryName("/var/lib/rancher/"));
        Assert.Equal("home.bind", MountLayout.BindDirectoryName("/home"));
    }

    [Fact]
    public void The_plan_round_trips_through_json()
    {
        var plan = Plan(Active + " rd.cos.mount=LABEL=DATA:/data");

        var json = MountPlanRenderer.ToJson(plan);
        var back = MountPlanRenderer.FromJson(json);

        Assert.Contains("\"kind\": \"find-device\"", json, StringComparison.Ordinal);
        Assert.Contains("\"mode\": \"Active\"", json, StringComparison.Ordinal);
        Assert.Equal(plan.Steps.Count, back.Steps.Count);
        Assert.Equal(plan.Steps.Select(s => s.GetType()), back.Steps.Select(s => s.GetType()));
        Assert.Equal(Step<FindDeviceStep>(plan, "find-state"), Step<FindDeviceStep>(back, "find-state"));
        Assert.Equal(plan.OnFailure, back.OnFailure);
        Assert.Equal(MountPlanRenderer.ToText(plan), MountPlanRenderer.ToText(back));
    }

    [Fact]
    public void The_text_rendering_reads_like_the_commands()
    {
        var text = MountPlanRenderer.ToText(Plan(Active));

        Assert.StartsWith("boot mode: active\n", text, StringComparison.Ordinal);
        Assert.Contains("on failure: reboot into the passive system (GRUB entry 'fallback')", text, StringComparison.Ordinal);
        Assert.Contains("mount-state              mount -t ext4 -o ro ${state} /run/initramfs/cos-state", text, StringComparison.Ordinal);
        Assert.Contains("losetup --find --show --read-only /run/initramfs/cos-state/cOS/active.img -> ${image}", text, StringComparison.Ordinal);
        Assert.Contains("switch_root /sysroot /sbin/init", text, StringComparison.Ordinal);
        Assert.Contains("(optional)", text, StringComparison.Ordinal);
    }
}
