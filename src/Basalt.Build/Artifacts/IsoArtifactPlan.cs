using System.Globalization;
using System.Text;
using Basalt.Boot.CommandLine;
using Basalt.Boot.Grub;
using Basalt.Disk;
using Basalt.Disk.FileSystems;

namespace Basalt.Build.Artifacts;

/// <summary>What the caller asks of a live ISO build.</summary>
public sealed record IsoArtifactOptions
{
    /// <summary>The unpacked Basalt OS image (it has /boot/vmlinuz and /boot/initrd).</summary>
    public required string RootDirectory { get; init; }

    /// <summary>The ISO file to write; replaced atomically.</summary>
    public required string OutputPath { get; init; }

    /// <summary>A cloud-config placed at the root of the medium, which the live system reads from <c>/run/initramfs/live</c>.</summary>
    public string? CloudConfigPath { get; init; }

    /// <summary>GRUB x86_64-efi module directory; null: the tree's own when present, else the host's.</summary>
    public string? GrubModulesDirectory { get; init; }

    /// <summary>GRUB i386-pc module directory (BIOS boot); null: the host's when grub-pc-bin is installed, else UEFI only.</summary>
    public string? BiosModulesDirectory { get; init; }

    /// <summary>The largest ISO the medium takes (e.g. a 4.7 GB DVD); null: no limit.</summary>
    public long? MaxSizeBytes { get; init; }

    /// <summary>The time stamped into the squashfs and the ISO (reproducible media).</summary>
    public DateTimeOffset Timestamp { get; init; } = DiskArtifactOptions.DefaultTimestamp;

    public GrubMenuOptions Menu { get; init; } = GrubMenuOptions.Default;

    /// <summary>Where the medium's files are staged; null: a hidden directory beside the output.</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>
    /// Files the caller adds to the medium (e.g. the slots file naming the image the squashfs holds), copied to their
    /// targets beside what the build writes; a target the build writes itself is refused.
    /// </summary>
    public IReadOnlyList<DiskContentFile> MediumFiles { get; init; } = [];
}

/// <summary>One file of the ISO: where it comes from on the host (null: made by the build) and where it goes.</summary>
public sealed record IsoFile(string? Source, string Target, string What);

/// <summary>
/// Everything a live ISO build will do, decided before anything is written: the medium's files, the boot images,
/// the GRUB configs, the tools and the space it needs. Printable for <c>--dry-run</c>; carried out by
/// <see cref="IsoArtifactBuilder"/>.
/// </summary>
public sealed record IsoArtifactPlan
{
    public const string VolumeLabel = BootKeys.LiveLabel;
    public const string KernelTarget = "/boot/kernel";
    public const string InitrdTarget = "/boot/initrd";
    public const string SquashfsTarget = "/" + BootKeys.LiveSquashfs;
    public const string MenuTarget = "/boot/grub/grub.cfg";
    public const string EfiImageTarget = "/boot/efi.img";
    public const string BiosImageTarget = "/boot/grub/bios.img";
    public const string CloudConfigTarget = "/cloud-config.yaml";

    public required IsoArtifactOptions Options { get; init; }

    public required string RootDirectory { get; init; }

    public required string OutputPath { get; init; }

    public required DirectoryTreeSize Tree { get; init; }

    /// <summary>Files copied onto the medium (kernel, initrd, cloud-config).</summary>
    public required IReadOnlyList<IsoFile> Files { get; init; }

    /// <summary>The live menu at <see cref="MenuTarget"/>.</summary>
    public required string MenuConfig { get; init; }

    /// <summary>The config built into both GRUB loaders: finds the medium by its label and loads <see cref="MenuTarget"/>.</summary>
    public required string EmbeddedConfig { get; init; }

    public required string GrubModulesDirectory { get; init; }

    /// <summary>Null: the ISO boots under UEFI only (grub-pc-bin is not installed).</summary>
    public required string? BiosModulesDirectory { get; init; }

    /// <summary>The kernel command line of the live entry, before the image's own arguments (<c>/etc/cos/bootargs.cfg</c>) are added.</summary>
    public required IReadOnlyList<string> KernelArguments { get; init; }

    /// <summary>Upper bound of the squashfs (uncompressed tree plus metadata).</summary>
    public required long SquashfsBoundBytes { get; init; }

    public required long EfiImageBytes { get; init; }

    /// <summary>Upper bound of the ISO.</summary>
    public required long IsoBoundBytes { get; init; }

    public required long RequiredFreeBytes { get; init; }

    public required IReadOnlyList<(string Tool, string Package)> Tools { get; init; }

    public bool BootsBios => BiosModulesDirectory is not null;

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"live ISO {OutputPath} (volume {VolumeLabel}) from {RootDirectory}\n");
        text.Append(CultureInfo.InvariantCulture, $"tree: {ByteSize.Format(Tree.ApparentBytes)} in {Tree.Inodes} inodes\n");
        text.Append(CultureInfo.InvariantCulture, $"  {SquashfsTarget,-22} squashfs of the tree (xz), at most {ByteSize.Format(SquashfsBoundBytes)}\n");
        foreach (var file in Files)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {file.Target,-22} {file.What}{(file.Source is null ? string.Empty : $" from {file.Source}")}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"  {MenuTarget,-22} live menu: {string.Join(' ', KernelArguments)} + the image's bootargs\n");
        text.Append(CultureInfo.InvariantCulture, $"  {EfiImageTarget,-22} El Torito UEFI image (FAT, {ByteSize.Format(EfiImageBytes)}): BOOTX64.EFI from {GrubModulesDirectory}\n");
        text.Append(BootsBios
            ? $"  {BiosImageTarget,-22} El Torito BIOS image (GRUB i386-pc-eltorito from {BiosModulesDirectory}), hybrid MBR for USB sticks\n"
            : "  BIOS: not supported (install grub-pc-bin on the build host for BIOS boot); the ISO boots under UEFI only\n");
        text.Append(CultureInfo.InvariantCulture, $"ISO at most {ByteSize.Format(IsoBoundBytes)}{(Options.MaxSizeBytes is { } max ? $" (medium holds {ByteSize.Format(max)})" : string.Empty)}; needs {ByteSize.Format(RequiredFreeBytes)} free\n");
        return text.ToString();
    }
}

/// <summary>
/// Turns <see cref="IsoArtifactOptions"/> into an <see cref="IsoArtifactPlan"/>: checks the tree is bootable and the
/// output usable, measures the tree, renders the GRUB configs. Reads only.
/// </summary>
public static class IsoArtifactPlanner
{
    public const string HostBiosModulesDirectory = "/usr/lib/grub/i386-pc";

    /// <summary>grub-pc-bin's MBR for hybrid ISOs (what grub-mkrescue uses).</summary>
    public const string HybridMbrFile = "boot_hybrid.img";

    public const string XorrisoTool = "xorriso";
    public const string XorrisoPackage = "xorriso";


    /// <summary>BOOTX64.EFI with iso9660 is ~2 MiB; the FAT image has room for it and its directories.</summary>
    public const long EfiImageBytes = 8 * ByteSize.MiB;

    /// <summary>ISO 9660 metadata, the BIOS image and alignment.</summary>
    private const long IsoOverheadBytes = 16 * ByteSize.MiB;

    public static IsoArtifactPlan Plan(IsoArtifactOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.RootDirectory);
        ArgumentException.ThrowIfNullOrEmpty(options.OutputPath);
        var root = Path.GetFullPath(options.RootDirectory);
        if (!Directory.Exists(root))
        {
            throw new ImageRootNotFoundException(root);
        }

        DiskArtifactPlanner.EnsureBootable(root);
        var output = Path.GetFullPath(options.OutputPath);
        EnsureWritable(output);

        var files = new List<IsoFile>
        {
            new(RootedFile.Resolve(root, options.Menu.KernelPath)!, IsoArtifactPlan.KernelTarget, "kernel"),
            new(RootedFile.Resolve(root, options.Menu.InitrdPath)!, IsoArtifactPlan.InitrdTarget, "initramfs"),
        };
        long cloudConfigBytes = 0;
        if (options.CloudConfigPath is { } cloudConfig)
        {
            if (!File.Exists(cloudConfig))
            {
                throw new CloudConfigNotFoundException(cloudConfig);
            }

            cloudConfigBytes = new FileInfo(cloudConfig).Length;
            files.Add(new IsoFile(Path.GetFullPath(cloudConfig), IsoArtifactPlan.CloudConfigTarget, "cloud-config, read by the live system from /run/initramfs/live"));
        }

        AddMediumFiles(files, options.MediumFiles);
        var grubModules = DiskArtifactPlanner.FindGrubModules(root, options.GrubModulesDirectory);
        var bios = FindBiosModules(options.BiosModulesDirectory);
        var tree = DirectoryTree.Measure(root);
        var squashfsBound = SquashfsImageBuilder.UpperBoundBytes(tree);
        var copied = files.Where(f => f.Source is not null).Sum(f => new FileInfo(f.Source!).Length);
        var isoBound = squashfsBound + copied + EfiImageBytes + IsoOverheadBytes + cloudConfigBytes;
        if (options.MaxSizeBytes is { } max && isoBound > max)
        {
            // The bound is what the tree could take uncompressed; compression usually does better, so the real size decides.
            // A tree whose kernel and initrd alone do not fit is refused now.
            var floor = copied + EfiImageBytes + IsoOverheadBytes;
            if (floor > max)
            {
                throw new IsoTooLargeException(output, floor, max);
            }
        }

        var arguments = LiveKernelArguments(options.Menu);
        var tools = new List<(string Tool, string Package)>
        {
            (SquashfsImageBuilder.Tool, SquashfsImageBuilder.Package),
            (VfatImageBuilder.MkfsTool, VfatImageBuilder.MkfsPackage),
            ("mmd", VfatImageBuilder.MtoolsPackage),
            ("mcopy", VfatImageBuilder.MtoolsPackage),
            (EfiLoader.Tool, EfiLoader.Package),
            (XorrisoTool, XorrisoPackage),
        };

        // Staging holds the squashfs, the copies and the boot images; the ISO is written beside it.
        var staging = squashfsBound + copied + EfiImageBytes + (4 * ByteSize.MiB);
        return new IsoArtifactPlan
        {
            Options = options,
            RootDirectory = root,
            OutputPath = output,
            Tree = tree,
            Files = files,
            MenuConfig = MenuConfig(options.Menu, arguments),
            EmbeddedConfig = EmbeddedConfig(),
            GrubModulesDirectory = grubModules,
            BiosModulesDirectory = bios,
            KernelArguments = arguments,
            SquashfsBoundBytes = squashfsBound,
            EfiImageBytes = EfiImageBytes,
            IsoBoundBytes = isoBound,
            RequiredFreeBytes = staging + isoBound + (64 * ByteSize.MiB),
            Tools = tools,
        };
    }

    private static void AddMediumFiles(List<IsoFile> files, IReadOnlyList<DiskContentFile> added)
    {
        DiskArtifactPlanner.EnsureAddedFiles(
            added,
            [
                IsoArtifactPlan.KernelTarget, IsoArtifactPlan.InitrdTarget, IsoArtifactPlan.SquashfsTarget, IsoArtifactPlan.MenuTarget,
                IsoArtifactPlan.EfiImageTarget, IsoArtifactPlan.BiosImageTarget, IsoArtifactPlan.CloudConfigTarget,
            ],
            "medium file");
        files.AddRange(added.Select(file => new IsoFile(Path.GetFullPath(file.Source), file.Target, "added by the caller")));
    }

    /// <summary>
    /// The live entry's arguments: the menu's (consoles, panic and failure handling) and the live root on the medium
    /// labelled <see cref="IsoArtifactPlan.VolumeLabel"/>, which the mounter reads as live mode.
    /// </summary>
    public static IReadOnlyList<string> LiveKernelArguments(GrubMenuOptions menu)
    {
        ArgumentNullException.ThrowIfNull(menu);
        return
        [
            .. menu.KernelArguments,
            $"root=live:CDLABEL={IsoArtifactPlan.VolumeLabel}",
            $"{BootKeys.LiveDirectory}=/",
            $"{BootKeys.LiveSquashImage}={BootKeys.LiveSquashfs}",
        ];
    }

    /// <summary>Built into the loaders: whatever device GRUB started from, it finds the medium by label and loads the menu.</summary>
    public static string EmbeddedConfig() =>
        $"""
        search --no-floppy --label --set=root {IsoArtifactPlan.VolumeLabel}
        set prefix=($root)/boot/grub
        configfile ($root){IsoArtifactPlan.MenuTarget}

        """;

    /// <summary>
    /// The live menu: one entry booting the medium's kernel and initramfs in live mode. The image's own arguments
    /// (<c>boot=basalt</c>) are read from the squashfs, as the disk menu reads them from active.img.
    /// </summary>
    public static string MenuConfig(GrubMenuOptions menu, IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(menu);
        ArgumentNullException.ThrowIfNull(arguments);
        var serial = string.Create(CultureInfo.InvariantCulture, $"serial --unit={menu.SerialUnit} --speed={menu.SerialSpeed} --word=8 --parity=no --stop=1");
        return $$"""
            # Basalt live medium menu. Generated by basalt build iso.
            set timeout={{menu.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)}}
            insmod serial
            {{serial}}
            terminal_input serial console
            terminal_output serial console
            insmod iso9660
            insmod loopback
            insmod squash4
            insmod all_video
            insmod test
            search --no-floppy --label --set=root {{IsoArtifactPlan.VolumeLabel}}
            set default=live

            menuentry "{{menu.DisplayName}} live" --id live {
              search --no-floppy --label --set=root {{IsoArtifactPlan.VolumeLabel}}
              set bootargs=
              if [ -d (loop0) ]; then
                loopback -d loop0
              fi
              loopback loop0 {{IsoArtifactPlan.SquashfsTarget}}
              if [ -f (loop0){{GrubPaths.ImageBootArguments}} ]; then
                source (loop0){{GrubPaths.ImageBootArguments}}
              fi
              linux {{IsoArtifactPlan.KernelTarget}} {{string.Join(' ', arguments)}} ${bootargs}
              initrd {{IsoArtifactPlan.InitrdTarget}}
            }

            """;
    }

    private static void EnsureWritable(string output)
    {
        if (Directory.Exists(output))
        {
            throw new InvalidIsoOutputException(output, "it is a directory");
        }

        var directory = Path.GetDirectoryName(output);
        if (directory is null || !Directory.Exists(directory))
        {
            throw new InvalidIsoOutputException(output, "its directory does not exist");
        }

        if (!Basalt.Platform.Posix.CanWrite(directory))
        {
            throw new InvalidIsoOutputException(output, "its directory is not writable");
        }
    }

    private static string? FindBiosModules(string? requested)
    {
        var candidate = requested ?? HostBiosModulesDirectory;
        var usable = File.Exists(Path.Combine(candidate, EfiLoader.ModuleIndex)) && File.Exists(Path.Combine(candidate, HybridMbrFile));
        if (requested is not null && !usable)
        {
            throw new GrubModulesNotFoundException([requested]);
        }

        return usable ? Path.GetFullPath(candidate) : null;
    }
}
