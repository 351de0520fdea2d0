using Basalt.Build.Artifacts;
using Basalt.Config.Model;
using Basalt.Disk;
using Basalt.Disk.Layout;

namespace Basalt.Agent.Install;

/// <summary>
/// Turns an <see cref="InstallRequest"/> into an <see cref="InstallPlan"/>. Reads only: sysfs, mountinfo and (for a
/// <c>dir:</c> source) the tree. Every refusal a user can cause — no such disk, the disk holding the running system,
/// a disk too small, a setting Basalt cannot honour — is raised here, before anything is written.
/// </summary>
public sealed class InstallPlanner
{
    public const string AutoDevice = "auto";

    private static readonly string[] InstallStages = ["before-install", "after-install-chroot", "after-install"];

    private readonly DiskInventory _disks;
    private readonly RunningSystemProbe _probe;

    public InstallPlanner(DiskInventory disks, RunningSystemProbe probe)
    {
        ArgumentNullException.ThrowIfNull(disks);
        ArgumentNullException.ThrowIfNull(probe);
        _disks = disks;
        _probe = probe;
    }

    public InstallPlan Plan(InstallRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var install = request.Config.Install ?? new InstallConfig();
        var force = request.Force || install.Force == true;
        EnsureSupported(install);
        var partitions = PartitionSettings(install);
        var sourceText = request.Source ?? (string.IsNullOrWhiteSpace(install.Source) ? null : install.Source);
        var source = sourceText is null ? InstallSource.RunningSystem : InstallSource.Parse(sourceText);
        if (request.SeedBlobs && source.Kind != InstallSourceKind.Image)
        {
            throw new UnsupportedInstallSettingException("--seed-blobs", $"the source {source.Text} is not an image, so it has no blobs to seed", "install from an image (--source oci:REF, ocifile:TAR or oci-layout:DIR[:TAG]), or leave --seed-blobs out");
        }

        var deviceText = request.Device ?? install.Device;
        if (string.IsNullOrWhiteSpace(deviceText))
        {
            throw new InstallDeviceNotFoundException("(none)", "no target device was given");
        }

        var automatic = string.Equals(deviceText, AutoDevice, StringComparison.OrdinalIgnoreCase);
        var disk = automatic ? ChooseAutomatically() : FindDisk(deviceText);
        var mounts = _probe.MountPointsOn(disk.Name);
        if (mounts.Count > 0 && !force)
        {
            throw new InstallDeviceInUseException(disk.DevicePath, mounts);
        }

        var seed = request.Seed ?? $"install-{Guid.NewGuid():N}";
        var plan = new InstallPlan
        {
            Device = disk.DevicePath,
            DeviceBytes = disk.SizeBytes,
            DeviceChosenAutomatically = automatic,
            ForcedOverMounts = mounts,
            Source = source,
            Partitions = partitions,
            Seed = seed,
            Stages = [.. InstallStages.Select(stage => (stage, LifecycleStages.CountSteps(request.StageSources, stage)))],
            After = install.Poweroff == true ? PowerAction.Poweroff : install.Reboot == true ? PowerAction.Reboot : PowerAction.None,
            WorkDirectory = Path.GetFullPath(request.WorkDirectory),
            CloudConfigText = request.CloudConfigText,
            GrubModulesDirectory = request.GrubModulesDirectory,
            RecoverySquashfsPath = source.Kind == InstallSourceKind.RunningSystem && LifecycleStages.CountSteps(request.StageSources, "after-install-chroot") == 0
                ? request.LiveSquashfsPath
                : null,
            SeedBlobs = request.SeedBlobs,
            MediumSlotsPath = source.Kind == InstallSourceKind.RunningSystem && request.LiveSquashfsPath is { } live && InstallSlots.BesideSquashfs(live) is var named && File.Exists(named)
                ? named
                : null,
        };

        return source.Kind == InstallSourceKind.Directory
            ? plan with { Disk = PlanDisk(plan, source.Path!, cloudConfigPath: null) }
            : plan;
    }

    /// <summary>
    /// The disk for <paramref name="tree"/> on the plan's device: the device's size, the requested partitions, the seed.
    /// A device too small for it is refused with the size it needs.
    /// </summary>
    public static DiskArtifactPlan PlanDisk(InstallPlan plan, string tree, string? cloudConfigPath, string? persistentContent = null, IReadOnlyList<DiskContentFile>? stateFiles = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentException.ThrowIfNullOrEmpty(tree);
        var options = new DiskArtifactOptions
        {
            RootDirectory = tree,
            OutputPath = plan.Device,
            SizeBytes = plan.DeviceBytes,
            Seed = plan.Seed,
            Timestamp = DateTimeOffset.UtcNow,
            CloudConfigPath = cloudConfigPath,
            GrubModulesDirectory = plan.GrubModulesDirectory,
            Partitions = plan.Partitions,
            WorkDirectory = plan.WorkDirectory,
            PersistentContentDirectory = persistentContent,
            RecoverySquashfsPath = plan.RecoverySquashfsPath,
            StateFiles = stateFiles ?? [],
        };
        try
        {
            return DiskArtifactPlanner.Plan(options);
        }
        catch (DiskTooSmallException exception)
        {
            throw new InstallDeviceTooSmallException(plan.Device, plan.DeviceBytes, exception.MinimumBytes, exception);
        }
    }

    /// <summary><c>install.partitions</c> and <c>install.extra-partitions</c> (sizes in MiB as in Kairos) as layout settings.</summary>
    public static KairosPartitionSettings PartitionSettings(InstallConfig install)
    {
        ArgumentNullException.ThrowIfNull(install);
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var configured = install.Partitions;
        foreach (var (key, label, fileSystem, partition) in new[]
                 {
                     ("efi", KairosLayout.GrubLabel, "vfat", configured?.Efi),
                     ("oem", KairosLayout.OemLabel, "ext4", configured?.Oem),
                     ("recovery", KairosLayout.RecoveryLabel, "ext4", configured?.Recovery),
                     ("state", KairosLayout.StateLabel, "ext4", configured?.State),
                     ("persistent", KairosLayout.PersistentLabel, "ext4", configured?.Persistent),
                 })
        {
            if (partition is null)
            {
                continue;
            }

            var setting = $"install.partitions.{key}";
            if (partition.Fs is { } fs && !SameFileSystem(fs, fileSystem))
            {
                throw new UnsupportedInstallSettingException(setting + ".fs", $"'{fs}' is not supported; {label} is {fileSystem}", $"remove {setting}.fs or set it to {fileSystem}");
            }

            if (partition.Label is { } given && !string.Equals(given, label, StringComparison.Ordinal))
            {
                throw new UnsupportedInstallSettingException(setting + ".label", $"'{given}' differs from {label}, the name the boot menu and the mounter look for", $"remove {setting}.label");
            }

            if (partition.Size is { } mebibytes and > 0)
            {
                sizes[label] = checked(mebibytes * ByteSize.MiB);
            }
            else if (partition.Size is < 0)
            {
                throw new UnsupportedInstallSettingException(setting + ".size", $"{partition.Size} is negative", "give a size in MiB, or 0 for the rest of the disk (persistent only)");
            }
        }

        var extras = new List<ExtraPartition>();
        foreach (var (extra, index) in (install.ExtraPartitions ?? []).Select((extra, index) => (extra, index)))
        {
            var setting = $"install.extra-partitions[{index}]";
            var name = extra.Name ?? extra.Label ?? throw new UnsupportedInstallSettingException(setting, "has neither a name nor a label", "give each extra partition a name");
            if (extra.Fs is { } fs && !SameFileSystem(fs, "ext4"))
            {
                throw new UnsupportedInstallSettingException(setting + ".fs", $"'{fs}' is not supported for extra partitions", "use ext4 (the only filesystem Basalt formats for extra partitions)");
            }

            long? size = extra.Size is { } mebibytes and > 0 ? checked(mebibytes * ByteSize.MiB) : null;
            extras.Add(new ExtraPartition(name, FileSystemKind.Ext4, size, extra.Label));
        }

        return new KairosPartitionSettings { Sizes = sizes, Extra = extras };
    }

    private static void EnsureSupported(InstallConfig install)
    {
        if (install.NoFormat == true)
        {
            throw new UnsupportedInstallSettingException("install.no-format", "installing into existing partitions is not supported", "remove install.no-format: Basalt partitions and formats the whole disk");
        }

        if (install.EncryptedPartitions is { Count: > 0 } encrypted)
        {
            throw new UnsupportedInstallSettingException("install.encrypted_partitions", $"encrypting {string.Join(", ", encrypted)} is not supported by basalt install yet", "remove install.encrypted_partitions");
        }
    }

    private static bool SameFileSystem(string given, string expected) =>
        string.Equals(given, expected, StringComparison.OrdinalIgnoreCase) ||
        (expected == "vfat" && (string.Equals(given, "fat", StringComparison.OrdinalIgnoreCase) || string.Equals(given, "fat32", StringComparison.OrdinalIgnoreCase)));

    private DiskInfo ChooseAutomatically()
    {
        var disks = _disks.ListDisks();
        var free = disks.Where(disk => _probe.MountPointsOn(disk.Name).Count == 0).ToList();
        return DiskInventory.ChooseAutomatically(free)
            ?? throw new NoInstallDeviceException(disks.Select(disk => $"{disk.Name}{Why(disk, free)}"));
    }

    private static string Why(DiskInfo disk, List<DiskInfo> free) =>
        !free.Contains(disk) ? " (in use)" :
        disk.Removable ? " (removable)" :
        disk.ReadOnly ? " (read-only)" :
        !DiskInventory.IsInstallCandidate(disk) ? " (virtual)" : string.Empty;

    private DiskInfo FindDisk(string device)
    {
        if (!File.Exists(device))
        {
            throw new InstallDeviceNotFoundException(device, "it does not exist");
        }

        if (_disks.Find(device) is { } disk)
        {
            return disk;
        }

        throw new InstallDeviceNotFoundException(device, _disks.IsPartition(device) ? "it is a partition, not a whole disk" : "it is not a disk the kernel lists in /sys/block");
    }
}
