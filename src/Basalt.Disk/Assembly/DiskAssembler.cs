using System.Diagnostics;
using Basalt.Disk.Devices;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Platform;

namespace Basalt.Disk.Assembly;

/// <summary>
/// Carries out a <see cref="DiskPlan"/> without mounting anything and without partition device nodes:
/// a temporary file beside the output gets the GPT, every image copied sparsely at its partition offset
/// and every in-place ext4 made with <c>mkfs.ext4 -E offset=</c>; it is flushed and renamed into place
/// (converted by <c>qemu-img</c> first for qcow2). Tools and free space are checked before the first byte.
/// When the output is a block device (an install target) it is written in place: it must be exactly the
/// layout's size, images are copied densely (the device holds old data where a sparse copy would skip) and
/// nothing is renamed.
/// </summary>
public sealed class DiskAssembler
{
    public const string QemuImgTool = "qemu-img";
    public const string QemuImgPackage = "qemu-utils";

    private readonly IToolRunner _runner;

    public DiskAssembler(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
    }

    /// <summary>The external tools the plan needs, with their Debian packages.</summary>
    public static IReadOnlyList<(string Tool, string Package)> RequiredTools(DiskPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var tools = new List<(string Tool, string Package)>();
        if (plan.Partitions.Any(partition => partition.Source.Kind == PartitionContentKind.FormatExt4))
        {
            tools.Add((Ext4ImageBuilder.Tool, Ext4ImageBuilder.Package));
        }

        if (plan.Format == DiskImageFormat.Qcow2)
        {
            tools.Add((QemuImgTool, QemuImgPackage));
        }

        return tools;
    }

    /// <summary>The qemu-img call that turns the raw disk into qcow2.</summary>
    public static ToolInvocation DescribeConversion(string rawDisk, string qcow2Output) =>
        new(QemuImgTool, ["convert", "-q", "-f", "raw", "-O", "qcow2", rawDisk, qcow2Output]) { Package = QemuImgPackage };

    public async Task<DiskAssemblyResult> AssembleAsync(DiskPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var stopwatch = Stopwatch.StartNew();
        Preflight(plan);

        var output = plan.OutputPath;
        if (BlockDevice.IsBlockDevice(output))
        {
            await WriteRawAsync(plan, output, onDevice: true, cancellationToken).ConfigureAwait(false);
            return new DiskAssemblyResult(output, plan.Format, plan.Layout.DiskBytes, plan.DataBytes, stopwatch.Elapsed);
        }

        var raw = AtomicFile.TemporarySibling(output);
        string? converted = null;
        try
        {
            await WriteRawAsync(plan, raw, onDevice: false, cancellationToken).ConfigureAwait(false);
            if (plan.Format == DiskImageFormat.Qcow2)
            {
                converted = AtomicFile.TemporarySibling(output);
                try
                {
                    await _runner.RunAsync(DescribeConversion(raw, converted), cancellationToken).ConfigureAwait(false);
                }
                catch (ToolFailedException failure)
                {
                    throw new DiskConversionException("qcow2", failure);
                }

                Posix.Sync(converted);
                File.Move(converted, output, overwrite: true);
                converted = null;
                File.Delete(raw);
            }
            else
            {
                File.Move(raw, output, overwrite: true);
            }

            Posix.SyncParent(output);
            return new DiskAssemblyResult(output, plan.Format, plan.Layout.DiskBytes, Posix.GetStatus(output).AllocatedBytes, stopwatch.Elapsed);
        }
        finally
        {
            File.Delete(raw);
            if (converted is not null)
            {
                File.Delete(converted);
            }
        }
    }

    /// <summary>Everything that can be known wrong before writing: tools, sources unchanged since planning, free space.</summary>
    private void Preflight(DiskPlan plan)
    {
        ToolSupport.EnsureTools(_runner, [.. RequiredTools(plan)]);
        foreach (var partition in plan.Partitions)
        {
            if (partition.Source is { Kind: PartitionContentKind.Image, ImagePath: { } image })
            {
                if (!File.Exists(image))
                {
                    throw new DiskSourceNotFoundException(image, $"image for {partition.Placement.Label}");
                }

                var length = new FileInfo(image).Length;
                if (length > partition.Placement.SizeBytes)
                {
                    throw new ImageTooLargeException(partition.Placement.Label, image, length, partition.Placement.SizeBytes);
                }
            }
            else if (partition.Source is { Kind: PartitionContentKind.FormatExt4, SourceDirectory: { } directory } && !Directory.Exists(directory))
            {
                throw new DiskSourceNotFoundException(directory, $"source directory for {partition.Placement.Label}");
            }
        }

        if (BlockDevice.IsBlockDevice(plan.OutputPath))
        {
            if (plan.Format != DiskImageFormat.Raw)
            {
                throw new InvalidLayoutException($"{plan.OutputPath} is a block device; it can only be written raw");
            }

            var deviceBytes = BlockDevice.SizeBytes(plan.OutputPath);
            if (deviceBytes != plan.Layout.DiskBytes)
            {
                throw new InvalidLayoutException($"the layout is for a disk of {plan.Layout.DiskBytes} bytes but the device {plan.OutputPath} has {deviceBytes}");
            }

            return;
        }

        var directoryOfOutput = Path.GetDirectoryName(plan.OutputPath) ?? "/";
        if (!Directory.Exists(directoryOfOutput))
        {
            throw new DiskSourceNotFoundException(directoryOfOutput, "output directory");
        }

        DiskSpace.EnsureAvailable(directoryOfOutput, plan.RequiredFreeBytes);
    }

    private async Task WriteRawAsync(DiskPlan plan, string raw, bool onDevice, CancellationToken cancellationToken)
    {
        using (var disk = File.OpenHandle(raw, onDevice ? FileMode.Open : FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read))
        {
            if (!onDevice)
            {
                RandomAccess.SetLength(disk, plan.Layout.DiskBytes);
            }

            GptWriter.WriteTo(disk, plan.Layout.ToGpt());
            foreach (var partition in plan.Partitions)
            {
                if (partition.Source is { Kind: PartitionContentKind.Image, ImagePath: { } image })
                {
                    SparseCopy.Copy(image, disk, partition.Placement.OffsetBytes, skipZeroBlocks: !onDevice, cancellationToken);
                }
            }
        }

        var ext4 = new Ext4ImageBuilder(_runner);
        foreach (var partition in plan.Partitions.Where(partition => partition.Source.Kind == PartitionContentKind.FormatExt4))
        {
            var placement = partition.Placement;
            var spec = new Ext4ImageSpec(placement.FileSystemLabel, placement.FileSystemUuid, placement.SizeBytes)
            {
                SourceDirectory = partition.Source.SourceDirectory,
                Timestamp = plan.Timestamp,
            };
            await ext4.FormatInPlaceAsync(raw, placement.OffsetBytes, spec, cancellationToken).ConfigureAwait(false);
        }

        Posix.Sync(raw);
    }
}
