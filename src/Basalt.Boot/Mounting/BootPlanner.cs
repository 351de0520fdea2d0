using Basalt.Boot.CommandLine;
using Basalt.Config;

namespace Basalt.Boot.Mounting;

/// <summary>
/// Decides the boot-time mounts (the immucore role) from the kernel command line and the layout.
/// Pure: touches nothing, so <c>basalt boot plan</c> works on any host.
/// </summary>
public static class BootPlanner
{
    /// <summary>Where the partition holding the root image is mounted, read-only (Kairos's path).</summary>
    public const string StateMountPoint = "/run/initramfs/cos-state";

    /// <summary>Where COS_OEM is mounted in the new root.</summary>
    public const string OemMountPoint = "/oem";

    /// <summary>Where the live medium is mounted.</summary>
    public const string LiveMountPoint = "/run/initramfs/live";

    /// <summary>The tmpfs holding the overlays' upper and work dirs.</summary>
    public const string OverlayBase = "/run/overlay";

    public const string SentinelDirectory = "/run/cos";

    /// <summary>The tmpfs a downloaded live squashfs is kept in (RAM).</summary>
    public const string DownloadDirectory = "/run/basalt/live";

    /// <summary>Where a downloaded live squashfs is kept.</summary>
    public const string DownloadedSquashfs = DownloadDirectory + "/" + BootKeys.LiveSquashfs;

    /// <summary>Where the slots file served beside a downloaded live squashfs is kept, when there is one.</summary>
    public const string DownloadedSlots = DownloadDirectory + "/" + BootKeys.LiveSlots;

    /// <summary>
    /// The cap on <see cref="DownloadDirectory"/>. initramfs-tools makes /run a tmpfs of 10 % of RAM, smaller than a
    /// root squashfs on most machines, so the download gets a tmpfs of its own; the file takes what it is, the cap
    /// only keeps a runaway download from taking all the memory.
    /// </summary>
    public const string DownloadTmpfsSize = "90%";

    public static MountPlan Plan(string commandLine, MountLayout layout) =>
        Plan(BootParameters.Parse(commandLine), layout);

    /// <summary>
    /// The plan with the cloud-config's layout settings applied (what the boot does once it has read the
    /// config); paths that cannot be used are left out and listed in <see cref="MountPlan.ConfigProblems"/>.
    /// </summary>
    public static MountPlan Plan(BootParameters parameters, MountLayout layout, ConfigLayoutSettings config)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(config);
        var configured = LayoutConfiguration.Apply(layout.Validate(), config, parameters.Mounts.Select(m => m.MountPoint));
        var plan = Plan(parameters, configured.Layout);
        var notes = new List<string>(plan.Notes);
        if (configured.Layout.CustomBindMounts.Count > 0)
        {
            notes.Add($"cloud-config bind mounts ({LayoutConfiguration.BindMountsKey}): {string.Join(", ", configured.Layout.CustomBindMounts)}");
        }

        if (configured.Layout.CustomEphemeralMounts.Count > 0)
        {
            notes.Add($"cloud-config ephemeral mounts ({LayoutConfiguration.EphemeralMountsKey}): {string.Join(", ", configured.Layout.CustomEphemeralMounts)}");
        }

        return plan with { Notes = notes, ConfigProblems = configured.Problems };
    }

    /// <summary>
    /// The second phase at boot: <paramref name="plan"/> made again from its own layout and command line plus
    /// the config that was read at its <see cref="ReadConfigStep"/>. The steps up to that one are the same.
    /// </summary>
    public static MountPlan Replan(MountPlan plan, ConfigLayoutSettings config)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Plan(BootParameters.Parse(plan.CommandLine), plan.Layout, config);
    }

    public static MountPlan Plan(BootParameters parameters, MountLayout layout)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(layout);
        layout.Validate();
        var failure = FailureFor(parameters);
        if (parameters.Disabled)
        {
            return new MountPlan
            {
                Mode = parameters.Mode,
                Reset = parameters.Reset,
                CommandLine = parameters.CommandLine,
                Steps = [],
                OnFailure = failure,
                Notes = ["the mounter is disabled by rd.cos.disable / rd.immucore.disable: nothing is mounted"],
                Layout = layout,
            };
        }

        var builder = new PlanBuilder(parameters, layout);
        builder.Build();
        return new MountPlan
        {
            Mode = parameters.Mode,
            Reset = parameters.Reset,
            CommandLine = parameters.CommandLine,
            Steps = builder.Steps,
            OnFailure = failure,
            Notes = builder.Notes,
            Layout = layout,
        };
    }

    private static FailureAction FailureFor(BootParameters parameters)
    {
        var oem = DeviceReference.Label(parameters.OemLabel);
        return parameters.Mode switch
        {
            BootMode.Active => new FailureAction
            {
                NextEntry = "fallback",
                EnvironmentDevice = oem,
                Description = "reboot into the passive system (GRUB entry 'fallback')",
            },
            BootMode.Passive => new FailureAction
            {
                NextEntry = "recovery",
                EnvironmentDevice = oem,
                Description = "reboot into the recovery system (GRUB entry 'recovery')",
            },
            BootMode.Recovery => new FailureAction
            {
                NextEntry = "recovery",
                EnvironmentDevice = oem,
                Description = "reboot and try the recovery system again (no system left to fall back to)",
            },
            _ => new FailureAction { Description = "reboot (a live boot has no fallback on disk)" },
        };
    }

    private sealed class PlanBuilder(BootParameters parameters, MountLayout layout)
    {
        private readonly List<FstabEntry> _fstab = [];
        private string Sysroot => layout.Sysroot;

        public List<MountStep> Steps { get; } = [];
        public List<string> Notes { get; } = [];

        private bool Persistent => parameters.Mode is BootMode.Active or BootMode.Passive;

        /// <summary>
        /// Kairos/immucore order. Phase one: the root image, the mode sentinels, COS_OEM, the <c>rootfs</c>
        /// stage (it sees the new root and /oem, as in immucore), then the volumes (COS_PERSISTENT), so
        /// every place cloud-config lives is mounted when it is read. Phase two, planned again at boot with
        /// the config's layout settings: overlays, the remaining volumes, persistent binds, fstab, the
        /// <c>initramfs</c> stage just before the hand-over.
        /// </summary>
        public void Build()
        {
            MountRoot();
            WriteSentinels();
            if (parameters.Mode != BootMode.Live)
            {
                MountOem();
            }

            Steps.Add(new RunStageStep("rootfs", Sysroot) { Id = "stage-rootfs", Required = false });
            var volumes = Volumes();
            var ephemeral = layout.AllEphemeralPaths(Persistent);
            // A volume inside a built-in ephemeral path (rd.cos.mount=…:/var/lib/x) goes on top of its overlay,
            // later. The built-in list decides, not the config's additions, so phase one is the same before
            // and after the config is read (the config cannot cover an early volume: LayoutConfiguration).
            var early = volumes.Where(v => !BaseEphemeralPaths().Any(path => MountLayout.IsUnder(v.Volume.MountPoint, path))).ToList();
            MountVolumes(early);
            Steps.Add(new ReadConfigStep(Sysroot) { Id = "read-config", Required = false });
            MountOverlays(ephemeral);
            MountVolumes(volumes.Except(early).ToList());
            if (Persistent)
            {
                BindPersistentPaths();
            }
            else
            {
                Notes.Add($"{ModeName} mode: nothing persists; COS_PERSISTENT and the persistent bind paths are not mounted");
            }

            AddTemporaryDirectory(ephemeral);
            Steps.Add(new WriteFstabStep(InRoot("/etc/fstab"), [.. _fstab]) { Id = "write-fstab", Required = false });
            Steps.Add(new RunStageStep("initramfs", Sysroot) { Id = "stage-initramfs", Required = false });
            Steps.Add(new SwitchRootStep(Sysroot, layout.Init) { Id = "switch-root" });
        }

        /// <summary>
        /// The root is read-only in every mode and /tmp is none of the overlays, yet programs (and basalt's own work
        /// directories, in recovery too) expect to write there: systemd mounts a tmpfs on it from fstab, unless an
        /// overlay, a volume or a persistent path already covers /tmp.
        /// </summary>
        private void AddTemporaryDirectory(IReadOnlyList<string> ephemeral)
        {
            var covered = ephemeral.Any(path => MountLayout.IsUnder(TemporaryDirectory, path))
                || _fstab.Any(entry => MountLayout.IsUnder(TemporaryDirectory, entry.File) && entry.File != "/");
            if (!covered)
            {
                _fstab.Add(new FstabEntry("tmpfs", TemporaryDirectory, "tmpfs", "mode=1777,nosuid,nodev"));
            }
        }

        private const string TemporaryDirectory = "/tmp";

        private string ModeName => BootParametersReader.Name(parameters.Mode);

        private void MountRoot()
        {
            string imageFile;
            string containerMount;
            if (parameters.LiveUrl is { } url)
            {
                imageFile = DownloadedSquashfs;
                containerMount = DownloadDirectory;
                Steps.Add(new MountFileSystemStep("tmpfs", DownloadDirectory, "tmpfs", [$"size={DownloadTmpfsSize}", "mode=0700"]) { Id = "mount-live-ram" });
                Steps.Add(new DownloadStep(url, imageFile) { Id = "download-live" });
                // A directory built from an image names it beside the squashfs; one built from a tree has no such file.
                Steps.Add(new DownloadStep(new Uri(url, BootKeys.LiveSlots), DownloadedSlots) { Id = "download-live-slots", Required = false });
                Notes.Add("the live squashfs is downloaded into RAM; the initramfs must bring up networking (e.g. ip=dhcp)");
            }
            else
            {
                var container = parameters.ImageContainer!;
                containerMount = parameters.Mode == BootMode.Live ? LiveMountPoint : StateMountPoint;
                var fileSystem = parameters.Mode == BootMode.Live ? "iso9660" : "ext4";
                var slot = parameters.Mode == BootMode.Live ? "live-medium" : "state";
                Steps.Add(new FindDeviceStep(container, parameters.DeviceTimeout, slot) { Id = $"find-{slot}" });
                Steps.Add(new MountFileSystemStep($"${{{slot}}}", containerMount, fileSystem, ["ro"]) { Id = $"mount-{slot}" });
                imageFile = containerMount + parameters.ImagePath;
                if (parameters.Mode != BootMode.Live)
                {
                    _fstab.Add(new FstabEntry(container.Spec, containerMount, fileSystem, "ro"));
                }
            }

            Steps.Add(new RequireFileStep(imageFile, $"the {ModeName} root image") { Id = "require-image" });
            Steps.Add(new AttachLoopStep(imageFile, "image", ReadOnly: !parameters.RootReadWrite || parameters.ImageFormat == RootImageFormat.Squashfs) { Id = "attach-image" });
            var squashfs = parameters.ImageFormat == RootImageFormat.Squashfs;
            var rootOptions = squashfs || !parameters.RootReadWrite ? "ro" : "rw";
            if (parameters.RootReadWrite && !squashfs)
            {
                Notes.Add("rd.cos.debugrw: the root image is mounted read-write; changes go into the image file");
            }

            Steps.Add(new MountFileSystemStep("${image}", Sysroot, squashfs ? "squashfs" : "ext4", [rootOptions]) { Id = "mount-root" });
            if (parameters.Root is { } root)
            {
                _fstab.Add(new FstabEntry(root.Spec, "/", "ext4", rootOptions));
            }
        }

        private void WriteSentinels()
        {
            Steps.Add(new WriteFileStep($"{SentinelDirectory}/{ModeName}_mode", "1") { Id = "write-mode-sentinel" });
            if (parameters.Reset)
            {
                Steps.Add(new WriteFileStep($"{SentinelDirectory}/autoreset_mode", "1") { Id = "write-reset-sentinel" });
            }
        }

        private void MountOem()
        {
            // Kairos treats OEM as optional: a node without one still boots.
            var oem = DeviceReference.Label(parameters.OemLabel);
            Steps.Add(new FindDeviceStep(oem, parameters.OemTimeout, "oem") { Id = "find-oem", Required = false });
            Steps.Add(new CheckFileSystemStep("${oem}") { Id = "check-oem", Required = false });
            Steps.Add(new MountFileSystemStep("${oem}", InRoot(OemMountPoint), "ext4", ["rw"]) { Id = "mount-oem", Required = false });
            _fstab.Add(new FstabEntry(oem.Spec, OemMountPoint, "ext4", "rw"));
        }

        private void MountOverlays(IReadOnlyList<string> ephemeral)
        {
            var backing = OverlayBacking.Parse(parameters.OverlayBase ?? layout.OverlayBase, parameters.OverlayBase is null ? "the layout" : BootKeys.CosOverlay);
            if (backing.Device is { } device)
            {
                Steps.Add(new FindDeviceStep(device, parameters.DeviceTimeout, "overlay") { Id = "find-overlay" });
                Steps.Add(new MountFileSystemStep("${overlay}", OverlayBase, "ext4", ["rw"]) { Id = "mount-overlay-base" });
                _fstab.Add(new FstabEntry(device.Spec, OverlayBase, "ext4", "rw"));
            }
            else
            {
                var options = $"size={backing.TmpfsSize}";
                Steps.Add(new MountFileSystemStep("tmpfs", OverlayBase, "tmpfs", [options]) { Id = "mount-overlay-base" });
                _fstab.Add(new FstabEntry("tmpfs", OverlayBase, "tmpfs", options));
            }

            foreach (var path in ephemeral)
            {
                var name = path.TrimStart('/').Replace('/', '-');
                var upper = $"{OverlayBase}/{name}/.overlay/upper";
                var work = $"{OverlayBase}/{name}/.overlay/work";
                Steps.Add(new MountOverlayStep(InRoot(path), InRoot(path), upper, work) { Id = $"overlay-{name}" });
                _fstab.Add(new FstabEntry("overlay", path, "overlay", $"lowerdir={path},upperdir={upper},workdir={work},x-systemd.requires-mounts-for={OverlayBase}"));
            }
        }

        private IEnumerable<string> BaseEphemeralPaths() => Persistent ? layout.EphemeralPaths : layout.NonPersistentEphemeralPaths;

        private List<(VolumeMount Volume, string Slot)> Volumes()
        {
            var volumes = (Persistent ? layout.Volumes : []).Concat(parameters.Mounts).ToList();
            return volumes.Select((volume, i) =>
                (volume, volume.Device is { Kind: DeviceReferenceKind.Label, Value: BootKeys.PersistentLabel } ? "persistent" : $"volume-{i}")).ToList();
        }

        private void MountVolumes(List<(VolumeMount Volume, string Slot)> volumes)
        {
            foreach (var (volume, slot) in volumes)
            {
                var mode = volume.ReadWrite ? "rw" : "ro";
                Steps.Add(new FindDeviceStep(volume.Device, parameters.DeviceTimeout, slot) { Id = $"find-{slot}", Required = volume.Required });
                if (volume.ReadWrite && volume.FileSystem.StartsWith("ext", StringComparison.Ordinal))
                {
                    Steps.Add(new CheckFileSystemStep($"${{{slot}}}") { Id = $"check-{slot}", Required = false });
                }

                Steps.Add(new MountFileSystemStep($"${{{slot}}}", InRoot(volume.MountPoint), volume.FileSystem, [mode]) { Id = $"mount-{slot}", Required = volume.Required });
                _fstab.Add(new FstabEntry(volume.Device.Spec, volume.MountPoint, volume.FileSystem, mode));
            }
        }

        private void BindPersistentPaths()
        {
            foreach (var path in layout.AllPersistentPaths())
            {
                var stateDirectory = $"{MountLayout.NormalizePath(layout.PersistentStateTarget)}/{MountLayout.BindDirectoryName(path)}";
                var name = path.TrimStart('/').Replace('/', '-');
                // Kairos carries on when one bind fails (a path the image cannot hold); so does Basalt.
                Steps.Add(new PersistentBindStep(path, InRoot(stateDirectory), InRoot(path)) { Id = $"bind-{name}", Required = false });
                _fstab.Add(new FstabEntry(stateDirectory, path, "none", "defaults,bind"));
            }
        }

        private string InRoot(string path) => path == "/" ? Sysroot : Sysroot.TrimEnd('/') + path;
    }
}
