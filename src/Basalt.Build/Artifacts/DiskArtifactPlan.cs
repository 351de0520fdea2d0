using System.Globalization;
using System.Text;
using Basalt.Boot.Grub;
using Basalt.Disk;
using Basalt.Disk.Assembly;
using Basalt.Disk.Devices;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.Build.Artifacts;

/// <summary>What the caller asks of a disk build.</summary>
public sealed record DiskArtifactOptions
{
    /// <summary>The date every filesystem Basalt makes carries unless told otherwise, so the same inputs give the same disk.</summary>
    public static DateTimeOffset DefaultTimestamp { get; } = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public const string DefaultSeed = "basalt";

    /// <summary>The unpacked Basalt OS image (it has /boot/vmlinuz and /boot/initrd).</summary>
    public required string RootDirectory { get; init; }

    /// <summary>The disk file to write; replaced atomically.</summary>
    public required string OutputPath { get; init; }

    public DiskImageFormat Format { get; init; } = DiskImageFormat.Raw;

    /// <summary>Disk size; null: the smallest that holds the contents. Too small → <see cref="DiskTooSmallException"/>.</summary>
    public long? SizeBytes { get; init; }

    /// <summary>Every partition, filesystem and image UUID derives from this seed.</summary>
    public string Seed { get; init; } = DefaultSeed;

    /// <summary>The time stamped into every filesystem Basalt makes (reproducible disks).</summary>
    public DateTimeOffset Timestamp { get; init; } = DefaultTimestamp;

    /// <summary>A cloud-config copied to COS_OEM (mounted at /oem) as <see cref="DiskArtifactPlan.CloudConfigName"/>.</summary>
    public string? CloudConfigPath { get; init; }

    /// <summary>GRUB x86_64-efi module directory; null: the tree's own when present, else the host's.</summary>
    public string? GrubModulesDirectory { get; init; }

    public GrubMenuOptions Menu { get; init; } = GrubMenuOptions.Default;

    /// <summary>Extra room in the active/passive images, as a percentage of the tree.</summary>
    public int ImageHeadroomPercent { get; init; } = 10;

    /// <summary>Requested partition sizes and extra partitions (an install's <c>install.partitions</c>); default: what the contents need.</summary>
    public KairosPartitionSettings Partitions { get; init; } = KairosPartitionSettings.Default;

    /// <summary>Where the images are made before assembly; null: a hidden directory beside the output (not possible for a block device).</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>A directory whose contents fill COS_PERSISTENT (e.g. the lifecycle history of an install); null: empty.</summary>
    public string? PersistentContentDirectory { get; init; }

    /// <summary>
    /// A squashfs already made of this very tree (the live medium's, when installing from it), copied as the recovery
    /// image instead of compressing the tree again; null: one is made with mksquashfs.
    /// </summary>
    public string? RecoverySquashfsPath { get; init; }

    /// <summary>
    /// Extra files placed on COS_STATE beside the images (e.g. an install's slots file, <c>/cOS/slots.json</c>), so they
    /// exist exactly when the images they describe do; empty: none.
    /// </summary>
    public IReadOnlyList<DiskContentFile> StateFiles { get; init; } = [];
}

/// <summary>A host file <paramref name="Source"/> copied to <paramref name="Target"/>, an absolute path on a partition.</summary>
public sealed record DiskContentFile(string Source, string Target);

/// <summary>One image file made in the work directory before the disk is assembled.</summary>
/// <param name="Role">active, passive, recovery, esp…</param>
/// <param name="RelativePath">Path inside the work directory.</param>
/// <param name="Label">Filesystem label.</param>
/// <param name="Uuid">Filesystem UUID (ext4), null for squashfs and FAT.</param>
/// <param name="SizeBytes">Image size, or the upper bound of a squashfs.</param>
public sealed record PlannedImage(string Role, string RelativePath, string Label, Guid? Uuid, long SizeBytes);

/// <summary>
/// Everything a disk build will do, decided before anything is written: the measured tree, the images
/// made from it, the placed layout and the GRUB files. Printable for <c>--dry-run</c>; carried out by
/// <see cref="DiskArtifactBuilder"/>.
/// </summary>
public sealed record DiskArtifactPlan
{
    public const string CloudConfigName = "90_custom.yaml";
    public const string ActiveImagePath = "state/cOS/active.img";
    public const string PassiveImagePath = "state/cOS/passive.img";
    public const string RecoveryImagePath = "recovery/cOS/recovery.squashfs";
    public const string EspImagePath = "esp.img";

    public required DiskArtifactOptions Options { get; init; }

    /// <summary>The OS tree, as an absolute path.</summary>
    public required string RootDirectory { get; init; }

    public required string OutputPath { get; init; }

    public required DirectoryTreeSize Tree { get; init; }

    /// <summary>Inode count of the active and passive images.</summary>
    public required long ImageInodeCount { get; init; }

    public required PlannedImage ActiveImage { get; init; }

    public required PlannedImage PassiveImage { get; init; }

    /// <summary>The recovery squashfs; its size is an upper bound (uncompressed tree plus metadata) used to size COS_RECOVERY.</summary>
    public required PlannedImage RecoveryImage { get; init; }

    public required ResolvedDiskLayout Layout { get; init; }

    public required string GrubModulesDirectory { get; init; }

    /// <summary>The stub at <see cref="GrubPaths.EfiConfig"/> on COS_GRUB.</summary>
    public required string EfiConfig { get; init; }

    /// <summary>The menu at <see cref="GrubPaths.MenuConfig"/> on COS_STATE and COS_RECOVERY.</summary>
    public required string MenuConfig { get; init; }

    /// <summary>The external tools the build runs, with their Debian packages.</summary>
    public required IReadOnlyList<(string Tool, string Package)> Tools { get; init; }

    /// <summary>Bytes the images made in the work directory take.</summary>
    public required long WorkBytes { get; init; }

    /// <summary>Free space the output's filesystem needs for the work files and the disk together.</summary>
    public required long RequiredFreeBytes { get; init; }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"disk {OutputPath} ({Options.Format.ToString().ToLowerInvariant()}) from {RootDirectory}\n");
        text.Append(CultureInfo.InvariantCulture, $"tree: {ByteSize.Format(Tree.ApparentBytes)} in {Tree.Inodes} inodes ({ByteSize.Format(Tree.BlockBytes)} in 4 KiB blocks)\n");
        foreach (var image in new[] { ActiveImage, PassiveImage, RecoveryImage })
        {
            var uuid = image.Uuid is { } id ? $" uuid {id}" : string.Empty;
            var bound = image == RecoveryImage ? "at most " : string.Empty;
            text.Append(CultureInfo.InvariantCulture, $"image {image.Role}: {image.RelativePath} label {image.Label}{uuid}, {bound}{ByteSize.Format(image.SizeBytes)}\n");
        }

        if (Options.RecoverySquashfsPath is { } squashfs)
        {
            text.Append(CultureInfo.InvariantCulture, $"recovery squashfs copied from {squashfs}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"EFI loader: grub-mkimage x86_64-efi from {GrubModulesDirectory}, modules {string.Join(' ', EfiLoader.Modules)}\n");
        if (Options.CloudConfigPath is { } cloudConfig)
        {
            text.Append(CultureInfo.InvariantCulture, $"cloud-config: {cloudConfig} -> COS_OEM:/{CloudConfigName}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"timestamp {Options.Timestamp:O}, seed '{Layout.Seed}', needs {ByteSize.Format(RequiredFreeBytes)} free\n");
        text.Append(CultureInfo.InvariantCulture, $"disk {ByteSize.Format(Layout.DiskBytes)}, GPT {Layout.DiskGuid}\n");
        foreach (var partition in Layout.Partitions)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"  {partition.Number} {partition.Label,-15} {partition.Spec.FileSystem.ToString().ToLowerInvariant(),-6} LBA {partition.FirstLba,10}–{partition.LastLba,-10} {ByteSize.Format(partition.SizeBytes),10}  {IdentityOf(partition)}  {ContentOf(partition.Label)}\n");
        }

        return text.ToString();
    }

    /// <summary>The FAT volume id of the ESP (what blkid shows as its UUID), the filesystem UUID of the others.</summary>
    private string IdentityOf(PartitionPlacement partition) => partition.Spec.FileSystem == FileSystemKind.Vfat
        ? string.Create(CultureInfo.InvariantCulture, $"volume id {DeterministicGuid.CreateVolumeId(Layout.Seed, partition.Label):X8}")
        : $"uuid {partition.FileSystemUuid}";

    private string ContentOf(string label) => label switch
    {
        KairosLayout.GrubLabel => $"EFI/BOOT/BOOTX64.EFI, {GrubPaths.EfiConfig}",
        KairosLayout.OemLabel => Options.CloudConfigPath is null ? GrubPaths.Environment : $"{GrubPaths.Environment}, /{CloudConfigName}",
        KairosLayout.RecoveryLabel => $"/cOS/recovery.squashfs, {GrubPaths.MenuConfig}",
        KairosLayout.StateLabel => string.Join(", ", new[] { "/cOS/active.img", "/cOS/passive.img", GrubPaths.MenuConfig }.Concat(Options.StateFiles.Select(file => file.Target))),
        KairosLayout.PersistentLabel => Options.PersistentContentDirectory is { } content ? $"from {content}" : "empty",
        _ => string.Empty,
    };
}

/// <summary>
/// Turns <see cref="DiskArtifactOptions"/> into a <see cref="DiskArtifactPlan"/>: checks the tree is bootable,
/// measures it, sizes the images and the layout (KairosLayout) and renders the GRUB files. Reads only.
/// </summary>
public static class DiskArtifactPlanner
{
    /// <summary>Where the host keeps GRUB's EFI modules (Debian's grub-efi-amd64-bin).</summary>
    public const string HostGrubModulesDirectory = "/usr/lib/grub/x86_64-efi";

    /// <summary>Bytes a squashfs may add to the tree it holds, per inode and in all (superblock, tables, tails).</summary>

    /// <summary>An allowance for BOOTX64.EFI and the stub config before the loader is made (~1 MiB in practice).</summary>
    private const long EfiContentAllowance = 4 * ByteSize.MiB;

    public static DiskArtifactPlan Plan(DiskArtifactOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.RootDirectory);
        ArgumentException.ThrowIfNullOrEmpty(options.OutputPath);
        ArgumentOutOfRangeException.ThrowIfNegative(options.ImageHeadroomPercent);

        var root = Path.GetFullPath(options.RootDirectory);
        if (!Directory.Exists(root))
        {
            throw new ImageRootNotFoundException(root);
        }

        EnsureBootable(root);
        var output = Path.GetFullPath(options.OutputPath);
        if (Directory.Exists(output))
        {
            throw new InvalidDiskOutputException(output, "it is a directory");
        }

        if (!Directory.Exists(Path.GetDirectoryName(output)))
        {
            throw new InvalidDiskOutputException(output, "its directory does not exist");
        }

        var onDevice = BlockDevice.IsBlockDevice(output);
        if (onDevice && options.Format != DiskImageFormat.Raw)
        {
            throw new InvalidDiskOutputException(output, "it is a block device, which is written raw only");
        }

        if (onDevice && options.WorkDirectory is null)
        {
            throw new InvalidDiskOutputException(output, "it is a block device and no work directory was given for the images");
        }

        long cloudConfigBytes = 0;
        if (options.CloudConfigPath is { } cloudConfig)
        {
            CloudConfigFile.EnsureValid(cloudConfig);
            cloudConfigBytes = new FileInfo(cloudConfig).Length;
        }

        EnsureStateFiles(options.StateFiles);

        var grubModules = FindGrubModules(root, options.GrubModulesDirectory);
        var tree = DirectoryTree.Measure(root);
        var image = Ext4Sizing.ForTree(tree, options.ImageHeadroomPercent, reservedPercent: 0);
        var recoveryBound = SquashfsImageBuilder.UpperBoundBytes(tree);
        if (options.RecoverySquashfsPath is { } givenSquashfs)
        {
            if (!File.Exists(givenSquashfs))
            {
                throw new ImageRootNotFoundException(givenSquashfs);
            }

            recoveryBound = ByteSize.AlignUp(new FileInfo(givenSquashfs).Length, ByteSize.MiB);
        }

        var inputs = new KairosSizingInputs(image.ImageBytes, recoveryBound)
        {
            EfiContentBytes = EfiContentAllowance,
            OemContentBytes = GrubEnvironment.DefaultSize + cloudConfigBytes,
            PersistentContentBytes = options.PersistentContentDirectory is { } persistent && Directory.Exists(persistent) ? DirectoryTree.Measure(persistent).BlockBytes : 0,
        };
        var layout = KairosLayout.Create(inputs, options.Seed, options.Partitions).Resolve(options.SizeBytes);

        var menu = GrubMenu.Create(options.Menu);
        var seed = options.Seed;
        var active = new PlannedImage("active", DiskArtifactPlan.ActiveImagePath, KairosLayout.ActiveImageLabel, DeterministicGuid.Create(seed, "image:" + KairosLayout.ActiveImageLabel), image.ImageBytes);
        var passive = new PlannedImage("passive", DiskArtifactPlan.PassiveImagePath, KairosLayout.PassiveImageLabel, DeterministicGuid.Create(seed, "image:" + KairosLayout.PassiveImageLabel), image.ImageBytes);
        var recovery = new PlannedImage("recovery", DiskArtifactPlan.RecoveryImagePath, "squashfs", null, recoveryBound);

        // Work files: two ext4 images (their data, block-rounded, plus journals), the squashfs and the ESP.
        var imageData = tree.BlockBytes + Ext4Sizing.JournalBytes(image.ImageBytes) + (image.InodeCount * Ext4Sizing.InodeSize);
        var esp = layout.Get(KairosLayout.GrubLabel).SizeBytes;
        var workBytes = (2 * imageData) + recoveryBound + esp;

        // The disk holds the same data again (COS_STATE and COS_RECOVERY copy the work images) plus filesystem metadata.
        var diskData = workBytes + layout.Partitions.Sum(partition => Ext4Sizing.JournalBytes(partition.SizeBytes) + (partition.SizeBytes / 100));
        var disk = options.Format == DiskImageFormat.Qcow2 ? 2 * diskData : diskData;
        // A block device is written in place: only the work files need room on a filesystem.
        var required = onDevice
            ? workBytes + (workBytes / 100) + (64 * ByteSize.MiB)
            : workBytes + disk + ((workBytes + disk) / 100) + (64 * ByteSize.MiB);

        return new DiskArtifactPlan
        {
            Options = options,
            RootDirectory = root,
            OutputPath = output,
            Tree = tree,
            ImageInodeCount = image.InodeCount,
            ActiveImage = active,
            PassiveImage = passive,
            RecoveryImage = recovery,
            Layout = layout,
            GrubModulesDirectory = grubModules,
            EfiConfig = GrubConfigGenerator.EfiConfig(options.Menu),
            MenuConfig = GrubConfigGenerator.MenuConfig(menu),
            Tools = RequiredTools(options.Format),
            WorkBytes = workBytes,
            RequiredFreeBytes = required,
        };
    }

    /// <summary>Every external tool a disk build in <paramref name="format"/> runs.</summary>
    public static IReadOnlyList<(string Tool, string Package)> RequiredTools(DiskImageFormat format)
    {
        var tools = new List<(string Tool, string Package)>
        {
            (Ext4ImageBuilder.Tool, Ext4ImageBuilder.Package),
            (Ext4ImageBuilder.DebugfsTool, Ext4ImageBuilder.Package),
            (SquashfsImageBuilder.Tool, SquashfsImageBuilder.Package),
            (VfatImageBuilder.MkfsTool, VfatImageBuilder.MkfsPackage),
            ("mmd", VfatImageBuilder.MtoolsPackage),
            ("mcopy", VfatImageBuilder.MtoolsPackage),
            (EfiLoader.Tool, EfiLoader.Package),
        };
        if (format == DiskImageFormat.Qcow2)
        {
            tools.Add((DiskAssembler.QemuImgTool, DiskAssembler.QemuImgPackage));
        }

        return tools;
    }

    /// <summary>
    /// The state files a caller adds must exist and land beside the images without replacing what the build writes
    /// there (the images, the menu): a target is an absolute path without <c>..</c>, not one of those.
    /// </summary>
    public static void EnsureStateFiles(IReadOnlyList<DiskContentFile> files) =>
        EnsureAddedFiles(
            files,
            new[] { DiskArtifactPlan.ActiveImagePath, DiskArtifactPlan.PassiveImagePath }.Select(path => path["state".Length..]).Append(GrubPaths.MenuConfig),
            "state file");

    /// <summary>
    /// Files a caller adds to what a build writes: each exists, and its target is an absolute file path without
    /// <c>.</c> or <c>..</c>, named once, and not one of the <paramref name="reserved"/> targets the build writes itself.
    /// </summary>
    public static void EnsureAddedFiles(IReadOnlyList<DiskContentFile> files, IEnumerable<string> reserved, string what)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(reserved);
        var builds = reserved.ToHashSet(StringComparer.Ordinal);
        foreach (var file in files)
        {
            if (!file.Target.StartsWith('/') || file.Target.EndsWith('/') || file.Target.Split('/').Any(part => part is ".." or "."))
            {
                throw new ArgumentException($"{what} target '{file.Target}' must be an absolute file path without '.' or '..'", nameof(files));
            }

            if (builds.Contains(file.Target) || files.Count(other => other.Target == file.Target) > 1)
            {
                throw new ArgumentException($"{what} target '{file.Target}' is already written by the build", nameof(files));
            }

            if (!File.Exists(file.Source))
            {
                throw new ArgumentException($"{what} source '{file.Source}' does not exist", nameof(files));
            }
        }
    }

    /// <summary>Throws <see cref="ImageNotBootableException"/> unless the tree has the kernel and initramfs GRUB loads.</summary>
    public static void EnsureBootable(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var menu = GrubMenuOptions.Default;
        var missing = new[] { menu.KernelPath, menu.InitrdPath }
            .Where(path => RootedFile.Resolve(root, path) is null)
            .ToList();
        if (missing.Count > 0)
        {
            throw new ImageNotBootableException(root, missing);
        }
    }

    /// <summary>The GRUB x86_64-efi module directory: <paramref name="requested"/>, else the tree's own, else the host's.</summary>
    public static string FindGrubModules(string root, string? requested)
    {
        var candidates = requested is not null
            ? [requested]
            : new[] { Path.Combine(root, HostGrubModulesDirectory.TrimStart('/')), HostGrubModulesDirectory };
        foreach (var candidate in candidates)
        {
            if (File.Exists(Path.Combine(candidate, EfiLoader.ModuleIndex)))
            {
                return Path.GetFullPath(candidate);
            }
        }

        throw new GrubModulesNotFoundException(candidates);
    }
}

/// <summary>Resolves a path inside an OS tree the way the tree's own filesystem would: symlinks stay inside the tree.</summary>
public static class RootedFile
{
    private const int MaxLinks = 16;

    /// <summary>The host path of the regular file <paramref name="pathInRoot"/> names inside <paramref name="root"/>, or null.</summary>
    public static string? Resolve(string root, string pathInRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentException.ThrowIfNullOrEmpty(pathInRoot);
        var pending = new Queue<string>(pathInRoot.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var resolved = new List<string>();
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Dequeue();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var host = Path.Combine([root, .. resolved, part]);
            if (!Posix.TryGetStatus(host, out var status))
            {
                return null;
            }

            if (status.Kind == UnixFileKind.SymbolicLink)
            {
                if (++links > MaxLinks)
                {
                    return null;
                }

                var target = new FileInfo(host).LinkTarget ?? string.Empty;
                if (target.StartsWith('/'))
                {
                    resolved.Clear();
                }

                var rest = pending.ToList();
                pending = new Queue<string>(target.Split('/', StringSplitOptions.RemoveEmptyEntries).Concat(rest));
                continue;
            }

            resolved.Add(part);
            if (pending.Count == 0)
            {
                return status.Kind == UnixFileKind.Regular ? host : null;
            }
        }

        return null;
    }
}
