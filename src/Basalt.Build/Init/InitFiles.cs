using Basalt.Boot.CommandLine;
using Basalt.Boot.Grub;
using Basalt.Boot.Mounting;

namespace Basalt.Build.Init;

/// <summary>The files init writes into an OS tree, as text. Pure, so tests check them directly.</summary>
public static class InitFiles
{
    public const string BasaltBinaryPath = "/usr/bin/basalt";
    public const string NetworkFilePath = "/etc/systemd/network/90-basalt-wired.network";
    public const string UnitDirectory = "/usr/lib/systemd/system";
    public const string InitramfsHookPath = "/etc/initramfs-tools/hooks/basalt";

    /// <summary>Where the initramfs keeps the util-linux tools the mounter runs, ahead of busybox on its PATH.</summary>
    public const string MounterToolsDirectory = "/usr/lib/basalt/bin";
    public const string InitramfsScriptPath = "/etc/initramfs-tools/scripts/basalt";
    public const string InitramfsModulesPath = "/etc/initramfs-tools/modules";
    public const string InitramfsConfPath = "/etc/initramfs-tools/conf.d/basalt.conf";
    public const string FstabPath = "/etc/fstab";
    public const string KernelPath = "/boot/vmlinuz";
    public const string InitrdPath = "/boot/initrd";
    public const string InitrdInputsPath = "/var/lib/basalt/initrd.inputs";

    public const string BootCompleteUnit = "basalt-boot-complete.service";
    public const string ReconcileTimer = "basalt-reconcile.timer";
    public const string ReconcileService = "basalt-reconcile.service";
    public const string ResetUnit = "basalt-reset.service";
    public const string RecoverUnit = "basalt-recover.service";

    /// <summary>The lifecycle's step journal on a booted node (COS_PERSISTENT), present only while an upgrade or rollback is unfinished.</summary>
    public const string LifecycleJournalPath = "/usr/local/.basalt/journal.json";

    public const string AutoInstallUnit = "basalt-auto-install.service";

    /// <summary>The tmpfs the auto-install makes its images in: the live root is read-only and /tmp is not a tmpfs there.</summary>
    public const string AutoInstallWorkDirectory = "/run/basalt/install-work";

    /// <summary>The cloud-config stages run by systemd once the system is up (rootfs and initramfs run in the initramfs).</summary>
    public static readonly IReadOnlyList<string> SystemdStages = ["fs", "boot", "network"];

    /// <summary>What the initramfs needs to find and mount the image: loop files, filesystems, common disk controllers.</summary>
    public static readonly IReadOnlyList<string> InitramfsModules =
    [
        "loop", "squashfs", "overlay", "ext4", "vfat", "iso9660",
        "virtio_blk", "virtio_pci", "virtio_scsi", "nvme", "ahci", "sd_mod", "sr_mod",
    ];

    /// <summary>
    /// The directories the mounter mounts over that lie on the read-only root itself: COS_OEM's mount point, the
    /// volumes' mount points and the persistent bind paths outside the ephemeral overlays (those inside an overlay
    /// are created at boot). Parents before children.
    /// </summary>
    public static IReadOnlyList<string> MountPoints(MountLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var ephemeral = layout.AllEphemeralPaths(persistent: true);
        return new[] { BootPlanner.OemMountPoint }
            .Concat(layout.Volumes.Select(volume => volume.MountPoint))
            .Concat(layout.AllPersistentPaths().Where(path => !ephemeral.Any(overlay => MountLayout.IsUnder(path, overlay))))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public static string StageUnitName(string stage) => $"basalt-stage-{stage}.service";

    /// <summary>
    /// DHCP on every wired interface; a file with a lower number in /etc/systemd/network wins over this one.
    /// <c>KeepConfiguration=static</c>: a netbooted node got its address in the initramfs (it downloaded its root with
    /// it); without this, networkd drops that address when it starts and the node is offline until its own DHCP
    /// answers, just when the boot stage fetches the <c>config_url</c>. On a disk boot nothing set an address before.
    /// </summary>
    public static string WiredNetwork() =>
        """
        # Basalt default: DHCP on wired interfaces. Files sorting before this one
        # (e.g. 10-static.network written by cloud-config) take precedence.
        [Match]
        Name=en* eth*

        [Network]
        DHCP=yes
        # Keep the address the initramfs configured (netboot) while DHCP runs again.
        KeepConfiguration=static

        [DHCPv4]
        UseDomains=yes

        """;

    /// <summary>
    /// Marks the boot good once boot-complete.target is reached. Health checks join the gate with
    /// <c>Before=boot-complete.target</c> + <c>RequiredBy=boot-complete.target</c>; if one fails, the
    /// target is not reached, this unit does not run, and boot counting falls back on a later boot.
    /// </summary>
    public static string BootCompleteService() =>
        $"""
        [Unit]
        Description=Basalt: mark this boot as good
        Documentation=https://github.com/basalt-os/basalt
        ConditionFileIsExecutable={BasaltBinaryPath}
        Requires=boot-complete.target
        After=boot-complete.target multi-user.target

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart={BasaltBinaryPath} boot mark-good

        [Install]
        WantedBy=multi-user.target

        """;

    /// <summary>
    /// A unit running one cloud-config stage. The leading '-' on ExecStart makes a failing stage
    /// harmless to the boot: it is logged in the journal but never fails the unit or its dependents.
    /// </summary>
    public static string StageService(string stage)
    {
        ArgumentException.ThrowIfNullOrEmpty(stage);
        var (ordering, wantedBy) = stage switch
        {
            "fs" => ("DefaultDependencies=no\nAfter=local-fs.target\nBefore=sysinit.target", "sysinit.target"),
            "boot" => ($"After=sysinit.target {StageUnitName("fs")}\nBefore=getty.target systemd-user-sessions.service", "multi-user.target"),
            // No default dependencies: multi-user.target would otherwise wait for this unit, and so for the network
            // (a node without a link would wait out systemd-networkd-wait-online before anyone can log in).
            "network" => ($"DefaultDependencies=no\nWants=network-online.target\nAfter=network-online.target basic.target {StageUnitName("boot")}\nConflicts=shutdown.target\nBefore=shutdown.target", "multi-user.target"),
            _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "not a systemd-run cloud-config stage"),
        };
        return $"""
            [Unit]
            Description=Basalt: run the '{stage}' cloud-config stage
            ConditionFileIsExecutable={BasaltBinaryPath}
            {ordering}

            [Service]
            Type=oneshot
            RemainAfterExit=yes
            # '-': a failing stage is logged but never fails the boot.
            ExecStart=-{BasaltBinaryPath} run-stage {stage}

            [Install]
            WantedBy={wantedBy}

            """;
    }

    /// <summary>
    /// Runs <c>basalt reset --unattended</c> when recovery was booted through the <c>statereset</c> menu entry, which adds
    /// <see cref="GrubMenuOptions.ResetArguments"/> to the kernel command line; the node then reboots into the fresh active
    /// image. In any other boot the conditions leave it inactive.
    /// </summary>
    public static string ResetService()
    {
        var argument = GrubMenuOptions.Default.ResetArguments[0];
        return $"""
            [Unit]
            Description=Basalt: reset the node from recovery (statereset boot entry)
            ConditionKernelCommandLine={argument}
            ConditionPathExists=/run/cos/recovery_mode
            ConditionFileIsExecutable={BasaltBinaryPath}
            After=local-fs.target {StageUnitName("boot")}
            Before=getty.target

            [Service]
            Type=oneshot
            ExecStart={BasaltBinaryPath} reset --unattended --reboot
            StandardOutput=journal

            [Install]
            WantedBy=multi-user.target

            """;
    }

    /// <summary>
    /// Finishes or undoes, early in an active or passive boot, an upgrade or rollback a power cut interrupted, so the node
    /// is consistent before the cloud-config stages, the services and the good-boot bookkeeping run. The initramfs has
    /// already mounted COS_STATE, COS_OEM and COS_PERSISTENT; without a journal the unit is skipped at no cost.
    /// </summary>
    public static string RecoverService() =>
        $"""
        [Unit]
        Description=Basalt: finish or undo an upgrade interrupted by a power cut
        DefaultDependencies=no
        ConditionPathExists={LifecycleJournalPath}
        ConditionPathExists=|/run/cos/active_mode
        ConditionPathExists=|/run/cos/passive_mode
        ConditionFileIsExecutable={BasaltBinaryPath}
        After=local-fs.target
        Before=sysinit.target {StageUnitName("fs")} {BootCompleteUnit}

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart={BasaltBinaryPath} recover --boot
        StandardOutput=journal+console
        StandardError=journal+console

        [Install]
        WantedBy=sysinit.target

        """;

    /// <summary>
    /// On a live boot (ISO or netboot), runs <c>basalt install --if-auto</c>: it installs unattended when the merged
    /// cloud-config sets <c>install.auto: true</c> (the device, reboot and power-off come from <c>install.*</c>) and
    /// does nothing otherwise. The images are made in a tmpfs of their own, the only writable room a live system has
    /// for them; an installed node never runs it (no <c>/run/cos/live_mode</c>).
    /// </summary>
    public static string AutoInstallService() =>
        $"""
        [Unit]
        Description=Basalt: install to disk unattended from the live system (install.auto)
        ConditionPathExists={BootPlanner.SentinelDirectory}/live_mode
        ConditionFileIsExecutable={BasaltBinaryPath}
        After=local-fs.target {StageUnitName("boot")}

        [Service]
        Type=oneshot
        ExecStartPre=/bin/mkdir -p {AutoInstallWorkDirectory}
        ExecStartPre=/bin/mount -t tmpfs -o size=90%,mode=0700 basalt-install-work {AutoInstallWorkDirectory}
        ExecStart={BasaltBinaryPath} install --if-auto --work-dir {AutoInstallWorkDirectory}
        ExecStopPost=-/bin/umount {AutoInstallWorkDirectory}
        StandardOutput=journal+console
        StandardError=journal+console
        TimeoutStartSec=infinity

        [Install]
        WantedBy=multi-user.target

        """;

    public static string ReconcileServiceUnit() =>
        $"""
        [Unit]
        Description=Basalt: run the 'reconcile' cloud-config stage
        ConditionFileIsExecutable={BasaltBinaryPath}
        After=network-online.target

        [Service]
        Type=oneshot
        # '-': a failing reconcile is logged and retried at the next timer tick.
        ExecStart=-{BasaltBinaryPath} run-stage reconcile

        """;

    public static string ReconcileTimerUnit() =>
        """
        [Unit]
        Description=Basalt: run the 'reconcile' cloud-config stage periodically

        [Timer]
        OnBootSec=5min
        OnUnitActiveSec=60min
        RandomizedDelaySec=2min

        [Install]
        WantedBy=timers.target

        """;

    /// <summary>The Basalt initramfs hook: puts the mounter and the tools it calls into the initramfs.</summary>
    public static string InitramfsHook() =>
        $$"""
        #!/bin/sh
        # Basalt: copies the boot-time mounter into the initramfs.
        PREREQ=""
        prereqs() {
        	echo "$PREREQ"
        }
        case "$1" in
        prereqs)
        	prereqs
        	exit 0
        	;;
        esac

        . /usr/share/initramfs-tools/hook-functions

        copy_exec {{BasaltBinaryPath}} {{BasaltBinaryPath}}
        # busybox gives the mounter a mount that takes -o loop, losetup and reboot (klibc's do not).
        for tool in /bin/busybox /usr/bin/busybox; do
        	if [ -x "$tool" ]; then
        		copy_exec "$tool" /bin/busybox
        		break
        	fi
        done
        # The mounter speaks util-linux (losetup --find --show, blkid -t, mount --bind); busybox's applets
        # of the same names do not. Its own copies live apart and come first on the mounter's PATH.
        # A netboot (basalt.live.url=) downloads the root squashfs with curl before anything is mounted.
        for directory in /usr/bin /bin; do
        	if [ -x "$directory/curl" ]; then
        		copy_exec "$directory/curl" {{MounterToolsDirectory}}/curl
        		break
        	fi
        done
        for tool in blkid e2fsck losetup mount umount; do
        	for directory in /usr/sbin /sbin /usr/bin /bin; do
        		if [ -x "$directory/$tool" ] && [ ! -L "$directory/$tool" ]; then
        			copy_exec "$directory/$tool" {{MounterToolsDirectory}}/$tool
        			break
        		fi
        	done
        done
        exit 0

        """;

    /// <summary>
    /// The boot script selected by <c>boot=basalt</c>: initramfs-tools' init sources it and calls
    /// <c>mountroot</c>, which hands the work to the Basalt mounter. A failure is printed on the
    /// console and the machine reboots (so boot counting can fall back); it never waits for input.
    /// </summary>
    public static string InitramfsBootScript() =>
        $$"""
        # Basalt boot script for initramfs-tools, selected by the kernel parameter boot=basalt.
        # Sourced by /init, which calls mountroot() once modules are loaded and udev runs.

        basalt_fail()
        {
        	echo "basalt: $*" >/dev/console 2>/dev/null || echo "basalt: $*"
        	echo "basalt: rebooting in 5 seconds" >/dev/console 2>/dev/null || true
        	sleep 5
        	reboot -f
        	# reboot(8) missing or refused: the kernel's magic SysRq still works.
        	echo b >/proc/sysrq-trigger
        	while true; do sleep 60; done
        }

        mountroot()
        {
        	[ "$quiet" != "y" ] && log_begin_msg "Mounting the Basalt root"
        	for module in loop squashfs overlay ext4 vfat iso9660; do
        		modprobe -q "$module" 2>/dev/null || true
        	done
        	if command -v wait_for_udev >/dev/null 2>&1; then
        		wait_for_udev 10
        	fi
        	# The .NET runtime wants a writable HOME and place for its bundle; /run is a tmpfs here.
        	export HOME=/run/basalt
        	export DOTNET_BUNDLE_EXTRACT_BASE_DIR=/run/basalt/bundle
        	mkdir -p /run/basalt/bundle
        	# A netboot fetches its root over HTTP: bring the network up first (ip= on the command line, DHCP by default).
        	if grep -q "{{BootKeys.BasaltLiveUrl}}=" /proc/cmdline; then
        		configure_networking
        	fi
        	if [ ! -x {{BasaltBinaryPath}} ]; then
        		basalt_fail "{{BasaltBinaryPath}} is missing from the initramfs"
        	fi
        	PATH={{MounterToolsDirectory}}:$PATH {{BasaltBinaryPath}} boot mount --sysroot "${rootmnt}"
        	status=$?
        	if [ "$status" -ne 0 ]; then
        		basalt_fail "mounting the root failed (basalt boot mount exited with $status)"
        	fi
        	[ "$quiet" != "y" ] && log_end_msg
        }

        """;

    public static string InitramfsModulesFile() =>
        "# Basalt: modules the initramfs loads before mounting the image.\n" + string.Join('\n', InitramfsModules) + "\n";

    /// <summary>A generic initramfs (every storage driver) with busybox, so it boots on other hardware.</summary>
    public static string InitramfsConf() =>
        """
        # Basalt: a generic initramfs that boots on any hardware, with busybox tools.
        MODULES=most
        BUSYBOX=y
        COMPRESS=gzip

        """;

    /// <summary>The root and the persistent paths are mounted by the initramfs mounter; only /tmp is left to fstab.</summary>
    public static string Fstab() =>
        """
        # Basalt: / is a read-only image; /etc, /var, /srv, /oem, /usr/local and the persistent
        # paths are mounted by the initramfs (see /run/cos). Only /tmp is mounted here.
        tmpfs /tmp tmpfs defaults,nosuid,nodev,mode=1777 0 0

        """;

    /// <summary>The boot menu every image ships (install and upgrade copy it to COS_STATE and COS_RECOVERY).</summary>
    public static string GrubMenu() => GrubConfigGenerator.MenuConfig(Boot.Grub.GrubMenu.Create(GrubMenuOptions.Default));

    /// <summary>This image's own kernel arguments: <c>boot=basalt</c> selects the Basalt boot script of its initramfs.</summary>
    public static string GrubBootArguments() => GrubConfigGenerator.BootArgumentsConfig(["boot=basalt"]);

    /// <summary>Keeps package maintainer scripts from starting services inside the chroot.</summary>
    public static string PolicyRcD() =>
        """
        #!/bin/sh
        # Basalt init: no service starts while packages are installed into an image.
        exit 101

        """;
}
