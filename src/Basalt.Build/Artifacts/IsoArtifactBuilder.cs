using System.Diagnostics;
using System.Globalization;
using Basalt.Disk;
using Basalt.Disk.Assembly;
using Basalt.Disk.FileSystems;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Artifacts;

/// <summary>What a live ISO build produced.</summary>
public sealed record IsoArtifactResult(string OutputPath, long IsoBytes, long SquashfsBytes, bool BootsBios, TimeSpan Elapsed);

/// <summary>
/// Builds a hybrid live ISO (volume COS_LIVE) from an OS tree: the medium's files are staged in a work directory
/// beside the output (kernel, initrd, <c>rootfs.squashfs</c>, the live menu, the cloud-config), the UEFI El Torito
/// image is a FAT image made with mtools (nothing is mounted), the BIOS image is GRUB's i386-pc-eltorito when
/// grub-pc-bin is installed, and xorriso writes the ISO, which is renamed over the output only when complete and
/// within the medium's size. The work directory is removed whatever happens.
/// </summary>
public sealed class IsoArtifactBuilder
{
    /// <summary>FAT volume id of the EFI image: fixed, so the same inputs give the same ISO.</summary>
    private const uint EfiVolumeId = 0xC05_11FE;

    /// <summary>What the live loaders need beyond the disk's: reading the ISO 9660 medium.</summary>
    public static IReadOnlyList<string> ExtraEfiModules { get; } = ["iso9660"];

    public static IReadOnlyList<string> BiosModules { get; } =
    [
        "biosdisk", "iso9660", "part_gpt", "part_msdos", "fat", "ext2", "loopback", "linux", "normal", "configfile",
        "search", "search_label", "search_fs_uuid", "search_fs_file", "echo", "test", "squash4", "serial", "terminal",
        "all_video", "gzio", "regexp", "cat", "ls", "true", "sleep", "halt", "reboot",
    ];

    private readonly IToolRunner _runner;
    private readonly ILogger _logger;

    public IsoArtifactBuilder(IToolRunner runner, ILogger<IsoArtifactBuilder>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public async Task<IsoArtifactResult> BuildAsync(IsoArtifactOptions options, CancellationToken cancellationToken = default) =>
        await BuildAsync(IsoArtifactPlanner.Plan(options), cancellationToken).ConfigureAwait(false);

    /// <summary>Tools and free space: what the plan cannot know by reading the tree. Writes nothing.</summary>
    public void Preflight(IsoArtifactPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        foreach (var (tool, package) in plan.Tools)
        {
            if (_runner.Locate(tool) is null)
            {
                throw new ToolNotFoundException(tool, package);
            }
        }

        DiskSpace.EnsureAvailable(plan.Options.WorkDirectory ?? Path.GetDirectoryName(plan.OutputPath) ?? "/", plan.RequiredFreeBytes);
    }

    /// <summary>The grub-mkimage call of the UEFI loader: the disk's modules plus iso9660, the menu-finding config built in.</summary>
    public static ToolInvocation DescribeEfiLoader(IsoArtifactPlan plan, string embeddedConfig, string output)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new ToolInvocation(EfiLoader.Tool,
            ["-O", "x86_64-efi", "-d", plan.GrubModulesDirectory, "-p", "/boot/grub", "-c", embeddedConfig, "-o", output, .. EfiLoader.Modules, .. ExtraEfiModules])
        {
            Package = EfiLoader.Package,
        };
    }

    /// <summary>The grub-mkimage call of the BIOS El Torito image; null when the ISO boots under UEFI only.</summary>
    public static ToolInvocation? DescribeBiosLoader(IsoArtifactPlan plan, string embeddedConfig, string output)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.BiosModulesDirectory is not { } bios
            ? null
            : new ToolInvocation(EfiLoader.Tool, ["-O", "i386-pc-eltorito", "-d", bios, "-p", "/boot/grub", "-c", embeddedConfig, "-o", output, .. BiosModules])
            {
                Package = "grub-pc-bin",
            };
    }

    /// <summary>The xorriso call writing <paramref name="output"/> from <paramref name="staging"/>.</summary>
    public static ToolInvocation DescribeXorriso(IsoArtifactPlan plan, string staging, string output)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var date = plan.Options.Timestamp.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "00";
        var arguments = new List<string>
        {
            "-as", "mkisofs", "-o", output, "-V", IsoArtifactPlan.VolumeLabel, "-r", "-J", "-joliet-long", "-iso-level", "3",
            "--modification-date=" + date,
        };
        if (plan.BiosModulesDirectory is { } bios)
        {
            arguments.AddRange(
            [
                "-b", IsoArtifactPlan.BiosImageTarget.TrimStart('/'), "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
                "--grub2-boot-info", "--grub2-mbr", Path.Combine(bios, IsoArtifactPlanner.HybridMbrFile),
                "-eltorito-alt-boot",
            ]);
        }

        arguments.AddRange(["-e", IsoArtifactPlan.EfiImageTarget.TrimStart('/'), "-no-emul-boot", "-efi-boot-part", "--efi-boot-image"]);
        if (plan.BootsBios)
        {
            arguments.Add("--protective-msdos-label");
        }

        arguments.Add(staging);
        return new ToolInvocation(IsoArtifactPlanner.XorrisoTool, arguments)
        {
            Package = IsoArtifactPlanner.XorrisoPackage,
            Environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["SOURCE_DATE_EPOCH"] = plan.Options.Timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) },
        };
    }

    public async Task<IsoArtifactResult> BuildAsync(IsoArtifactPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var stopwatch = Stopwatch.StartNew();
        Preflight(plan);
        var work = plan.Options.WorkDirectory is { } workRoot
            ? Path.Combine(Path.GetFullPath(workRoot), $".basalt-iso.work-{Environment.ProcessId}-{Guid.NewGuid():N}")
            : DiskArtifactBuilder.WorkDirectoryFor(plan.OutputPath);
        var staging = Path.Combine(work, "medium");
        Directory.CreateDirectory(Path.Combine(staging, "boot", "grub"));
        try
        {
            foreach (var file in plan.Files.Where(f => f.Source is not null))
            {
                File.Copy(file.Source!, InStaging(staging, file.Target));
            }

            var squashfs = InStaging(staging, IsoArtifactPlan.SquashfsTarget);
            _logger.LogInformation("making {Squashfs} from {Root}", IsoArtifactPlan.SquashfsTarget, plan.RootDirectory);
            await new SquashfsImageBuilder(_runner).BuildAsync(squashfs, new SquashfsImageSpec(plan.RootDirectory) { Timestamp = plan.Options.Timestamp }, cancellationToken).ConfigureAwait(false);
            var squashfsBytes = new FileInfo(squashfs).Length;

            await File.WriteAllTextAsync(InStaging(staging, IsoArtifactPlan.MenuTarget), plan.MenuConfig, cancellationToken).ConfigureAwait(false);
            var embedded = Path.Combine(work, "embedded.cfg");
            await File.WriteAllTextAsync(embedded, plan.EmbeddedConfig, cancellationToken).ConfigureAwait(false);

            var loader = Path.Combine(work, "BOOTX64.EFI");
            await RunLoaderAsync(DescribeEfiLoader(plan, embedded, loader), "EFI loader", loader, cancellationToken).ConfigureAwait(false);
            var efiSpec = new VfatImageSpec("BASALT_EFI", EfiVolumeId, plan.EfiImageBytes)
            {
                Files = [new VfatFile(loader, EfiLoader.LoaderPath)],
                Timestamp = plan.Options.Timestamp,
            };
            await new VfatImageBuilder(_runner).BuildAsync(InStaging(staging, IsoArtifactPlan.EfiImageTarget), efiSpec, cancellationToken).ConfigureAwait(false);

            var bios = InStaging(staging, IsoArtifactPlan.BiosImageTarget);
            if (DescribeBiosLoader(plan, embedded, bios) is { } biosLoader)
            {
                await RunLoaderAsync(biosLoader, "BIOS El Torito image", bios, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _logger.LogWarning("grub-pc-bin is not installed: the ISO boots under UEFI only");
            }

            var iso = Path.Combine(work, "live.iso");
            _logger.LogInformation("writing the ISO with xorriso");
            await _runner.RunAsync(DescribeXorriso(plan, staging, iso), cancellationToken).ConfigureAwait(false);
            var isoBytes = new FileInfo(iso).Length;
            if (plan.Options.MaxSizeBytes is { } max && isoBytes > max)
            {
                throw new IsoTooLargeException(plan.OutputPath, isoBytes, max);
            }

            Posix.Sync(iso);
            File.Move(iso, plan.OutputPath, overwrite: true);
            Posix.SyncParent(plan.OutputPath);
            return new IsoArtifactResult(plan.OutputPath, isoBytes, squashfsBytes, plan.BootsBios, stopwatch.Elapsed);
        }
        finally
        {
            DeleteWorkDirectory(work);
        }
    }

    private async Task RunLoaderAsync(ToolInvocation invocation, string what, string output, CancellationToken cancellationToken)
    {
        try
        {
            await _runner.RunAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new FileSystemBuildException(what, output, failure);
        }
    }

    private static string InStaging(string staging, string target)
    {
        var path = Path.Combine(staging, target.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    private void DeleteWorkDirectory(string work)
    {
        try
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("could not remove the work directory {Path}: {Message}", work, exception.Message);
        }
    }
}
