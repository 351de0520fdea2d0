using System.Diagnostics;
using Basalt.Boot.Grub;
using Basalt.Disk;
using Basalt.Disk.Assembly;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Artifacts;

/// <summary>What a disk build produced.</summary>
public sealed record DiskArtifactResult(
    string OutputPath,
    DiskImageFormat Format,
    long DiskBytes,
    long AllocatedBytes,
    ResolvedDiskLayout Layout,
    long RecoveryImageBytes,
    TimeSpan Elapsed);

/// <summary>
/// Builds a bootable Basalt disk from an OS tree: <c>active.img</c> and <c>passive.img</c> (ext4, COS_ACTIVE and
/// COS_PASSIVE), <c>recovery.squashfs</c>, the ESP with GRUB's EFI loader and stub config, the menu on COS_STATE and
/// COS_RECOVERY, grubenv (and an optional cloud-config) on COS_OEM and an empty COS_PERSISTENT. Everything that can
/// be known wrong (no kernel, size too small, tools, free space) is checked before the first byte is written; the
/// images are made in a work directory beside the output, which is removed afterwards whatever happens.
/// </summary>
public sealed class DiskArtifactBuilder
{
    private readonly IToolRunner _runner;
    private readonly ILogger _logger;
    private readonly IProgress<ImageWriteUpdate>? _progress;

    /// <param name="progress">Told how far each image (active, passive, recovery, the disk itself) has got while it is written.</param>
    public DiskArtifactBuilder(IToolRunner runner, ILogger<DiskArtifactBuilder>? logger = null, IProgress<ImageWriteUpdate>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _progress = progress;
    }

    /// <summary>Plans, checks and builds.</summary>
    public async Task<DiskArtifactResult> BuildAsync(DiskArtifactOptions options, CancellationToken cancellationToken = default)
    {
        var plan = DiskArtifactPlanner.Plan(options);
        return await BuildAsync(plan, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tools and free space: what the plan cannot know by reading the tree. Writes nothing.</summary>
    public void Preflight(DiskArtifactPlan plan)
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

    public async Task<DiskArtifactResult> BuildAsync(DiskArtifactPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var stopwatch = Stopwatch.StartNew();
        Preflight(plan);

        var work = plan.Options.WorkDirectory is { } workRoot
            ? Path.Combine(Path.GetFullPath(workRoot), $".basalt-disk.work-{Environment.ProcessId}-{Guid.NewGuid():N}")
            : WorkDirectoryFor(plan.OutputPath);
        Directory.CreateDirectory(work);
        try
        {
            var recoveryBytes = await MakeContentsAsync(plan, work, cancellationToken).ConfigureAwait(false);
            var layout = plan.Layout;
            var extras = layout.Partitions
                .Where(partition => !KairosLayout.StandardLabels.Contains(partition.Label, StringComparer.Ordinal) && partition.Spec.FileSystem == FileSystemKind.Ext4)
                .Select(partition => PartitionSource.FormatExt4(partition.Label));
            var diskPlan = DiskPlan.Create(
                layout,
                [
                    PartitionSource.Image(KairosLayout.GrubLabel, Path.Combine(work, DiskArtifactPlan.EspImagePath)),
                    PartitionSource.FormatExt4(KairosLayout.OemLabel, Path.Combine(work, "oem")),
                    PartitionSource.FormatExt4(KairosLayout.RecoveryLabel, Path.Combine(work, "recovery")),
                    PartitionSource.FormatExt4(KairosLayout.StateLabel, Path.Combine(work, "state")),
                    PartitionSource.FormatExt4(KairosLayout.PersistentLabel, plan.Options.PersistentContentDirectory),
                    .. extras,
                ],
                plan.OutputPath,
                plan.Options.Format) with { Timestamp = plan.Options.Timestamp };

            _logger.LogInformation("assembling {Output} ({Size})", plan.OutputPath, ByteSize.Format(layout.DiskBytes));
            // The disk receives what the work directory holds (the ESP image, COS_STATE and COS_RECOVERY's files) and the persistent content.
            var expected = new[] { "state", "recovery", "oem", DiskArtifactPlan.EspImagePath }.Sum(part => BlockBytes(Path.Combine(work, part)))
                + (plan.Options.PersistentContentDirectory is { } persistent ? BlockBytes(persistent) : 0);
            var assembled = await ImageWriteWatcher.WatchAsync(plan.OutputPath, expected, _progress, () => new DiskAssembler(_runner).AssembleAsync(diskPlan, cancellationToken), cancellationToken: cancellationToken).ConfigureAwait(false);
            return new DiskArtifactResult(assembled.OutputPath, assembled.Format, assembled.DiskBytes, assembled.AllocatedBytes, layout, recoveryBytes, stopwatch.Elapsed);
        }
        finally
        {
            DeleteWorkDirectory(work);
        }
    }

    /// <summary>The work directory of a build writing <paramref name="outputPath"/>: hidden, beside it, unique.</summary>
    public static string WorkDirectoryFor(string outputPath)
    {
        var full = Path.GetFullPath(outputPath);
        return Path.Combine(Path.GetDirectoryName(full) ?? "/", $".{Path.GetFileName(full)}.work-{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    private async Task<long> MakeContentsAsync(DiskArtifactPlan plan, string work, CancellationToken cancellationToken)
    {
        var options = plan.Options;
        var time = options.Timestamp;
        Directory.CreateDirectory(Path.Combine(work, "state", "cOS"));
        Directory.CreateDirectory(Path.Combine(work, "state", "grub2"));
        Directory.CreateDirectory(Path.Combine(work, "recovery", "cOS"));
        Directory.CreateDirectory(Path.Combine(work, "recovery", "grub2"));
        Directory.CreateDirectory(Path.Combine(work, "oem"));
        Directory.CreateDirectory(Path.Combine(work, "efi"));

        var ext4 = new Ext4ImageBuilder(_runner);
        var active = plan.ActiveImage;
        _logger.LogInformation("making {Role} image {Label} ({Size}) from {Root}", active.Role, active.Label, ByteSize.Format(active.SizeBytes), plan.RootDirectory);
        var activeSpec = new Ext4ImageSpec(active.Label, active.Uuid!.Value, active.SizeBytes)
        {
            SourceDirectory = plan.RootDirectory,
            InodeCount = plan.ImageInodeCount,
            ReservedPercent = 0,
            Timestamp = time,
        };
        var activePath = Path.Combine(work, active.RelativePath);
        await ImageWriteWatcher.WatchAsync(activePath, plan.Tree.BlockBytes, _progress, () => ext4.BuildAsync(activePath, activeSpec, cancellationToken), cancellationToken: cancellationToken).ConfigureAwait(false);
        var passive = plan.PassiveImage;
        _logger.LogInformation("making {Role} image {Label} as a copy of {Active}", passive.Role, passive.Label, active.Label);
        var passivePath = Path.Combine(work, passive.RelativePath);
        await ImageWriteWatcher.WatchAsync(passivePath, BlockBytes(activePath), _progress, () => ext4.CloneAsync(activePath, passivePath, passive.Label, passive.Uuid!.Value, time, cancellationToken), cancellationToken: cancellationToken).ConfigureAwait(false);

        var recoveryPath = Path.Combine(work, plan.RecoveryImage.RelativePath);
        if (options.RecoverySquashfsPath is { } existing)
        {
            _logger.LogInformation("copying the recovery squashfs from {Source}", existing);
            await using var from = new FileStream(existing, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
            await using var to = new FileStream(recoveryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
            await from.CopyToAsync(to, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            _logger.LogInformation("making the recovery squashfs from {Root}", plan.RootDirectory);
            // How well the tree compresses is not known before: the recovery image shows its growth without a total.
            await ImageWriteWatcher.WatchAsync(recoveryPath, 0, _progress, () => new SquashfsImageBuilder(_runner).BuildAsync(recoveryPath, new SquashfsImageSpec(plan.RootDirectory) { Timestamp = time }, cancellationToken), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var recoveryBytes = new FileInfo(recoveryPath).Length;
        if (recoveryBytes > plan.RecoveryImage.SizeBytes)
        {
            throw new ImageTooLargeException(KairosLayout.RecoveryLabel, recoveryPath, recoveryBytes, plan.RecoveryImage.SizeBytes);
        }

        var menuRelative = GrubPaths.MenuConfig.TrimStart('/');
        await File.WriteAllTextAsync(Path.Combine(work, "state", menuRelative), plan.MenuConfig, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(work, "recovery", menuRelative), plan.MenuConfig, cancellationToken).ConfigureAwait(false);
        foreach (var file in options.StateFiles)
        {
            var target = Path.Combine(work, "state", file.Target.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file.Source, target);
        }

        GrubEnvironment.Create().Save(Path.Combine(work, "oem", GrubPaths.Environment.TrimStart('/')));
        if (options.CloudConfigPath is { } cloudConfig)
        {
            File.Copy(cloudConfig, Path.Combine(work, "oem", DiskArtifactPlan.CloudConfigName));
        }

        var loader = Path.Combine(work, "efi", "BOOTX64.EFI");
        var stub = Path.Combine(work, "efi", "grub.cfg");
        try
        {
            await _runner.RunAsync(EfiLoader.Describe(plan.GrubModulesDirectory, loader), cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new FileSystemBuildException("EFI loader", loader, failure);
        }

        await File.WriteAllTextAsync(stub, plan.EfiConfig, cancellationToken).ConfigureAwait(false);
        PinTimes(work, time);

        var esp = plan.Layout.Get(KairosLayout.GrubLabel);
        var espSpec = new VfatImageSpec(esp.FileSystemLabel, DeterministicGuid.CreateVolumeId(plan.Layout.Seed, KairosLayout.GrubLabel), esp.SizeBytes)
        {
            Files = [new VfatFile(loader, EfiLoader.LoaderPath), new VfatFile(stub, GrubPaths.EfiConfig.TrimStart('/'))],
            Timestamp = time,
        };
        await new VfatImageBuilder(_runner).BuildAsync(Path.Combine(work, DiskArtifactPlan.EspImagePath), espSpec, cancellationToken).ConfigureAwait(false);
        return recoveryBytes;
    }

    /// <summary>What a file or a tree occupies on disk; 0 when it is not there.</summary>
    private static long BlockBytes(string path) =>
        File.Exists(path) ? Posix.GetStatus(path).AllocatedBytes
        : Directory.Exists(path) ? DirectoryTree.Measure(path).BlockBytes
        : 0;

    /// <summary>Every file and directory of the work tree gets the build's time, so the filesystems copying them are reproducible.</summary>
    private static void PinTimes(string work, DateTimeOffset time)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(work, "*", SearchOption.AllDirectories))
        {
            Posix.SetTimes(entry, time, time);
        }

        Posix.SetTimes(work, time, time);
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
        catch (IOException exception)
        {
            _logger.LogWarning("could not remove the work directory {Path}: {Message}", work, exception.Message);
        }
        catch (UnauthorizedAccessException exception)
        {
            _logger.LogWarning("could not remove the work directory {Path}: {Message}", work, exception.Message);
        }
    }
}
