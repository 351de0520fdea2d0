using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.Disk.Assembly;

public enum DiskImageFormat
{
    Raw,
    Qcow2,
}

public enum PartitionContentKind
{
    /// <summary>Left as zeros.</summary>
    Empty,

    /// <summary>A filesystem image file copied (sparsely) to the partition offset.</summary>
    Image,

    /// <summary>An ext4 filesystem made in place by <c>mkfs.ext4 -E offset=</c>, optionally filled from a directory.</summary>
    FormatExt4,
}

/// <summary>What goes into one partition.</summary>
public sealed record PartitionSource(string Label, PartitionContentKind Kind)
{
    /// <summary>For <see cref="PartitionContentKind.Image"/>: the image file.</summary>
    public string? ImagePath { get; init; }

    /// <summary>For <see cref="PartitionContentKind.FormatExt4"/>: the directory whose contents fill the filesystem, or null for an empty one.</summary>
    public string? SourceDirectory { get; init; }

    public static PartitionSource Image(string label, string imagePath) =>
        new(label, PartitionContentKind.Image) { ImagePath = imagePath };

    public static PartitionSource FormatExt4(string label, string? sourceDirectory = null) =>
        new(label, PartitionContentKind.FormatExt4) { SourceDirectory = sourceDirectory };

    public static PartitionSource Empty(string label) => new(label, PartitionContentKind.Empty);
}

/// <summary>A partition of the plan: where it lies, what fills it and how many bytes that writes.</summary>
/// <param name="ContentBytes">Image length, or the block-rounded size of the source directory.</param>
/// <param name="DataBytes">Bytes that will really be written (allocated bytes of a sparse image, data plus metadata of an in-place format).</param>
public sealed record PlannedPartition(PartitionPlacement Placement, PartitionSource Source, long ContentBytes, long DataBytes);

/// <summary>
/// Everything <see cref="DiskAssembler"/> will do, as a value: the placed layout, the content of every
/// partition and the output. Printable for <c>--dry-run</c> (<see cref="ToString"/>, <see cref="ToJson"/>).
/// </summary>
public sealed record DiskPlan(ResolvedDiskLayout Layout, IReadOnlyList<PlannedPartition> Partitions, string OutputPath, DiskImageFormat Format)
{
    /// <summary>When set, filesystems made in place carry this time, for reproducible disks.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Bytes of real data the assembly writes (holes excluded), GPT included.</summary>
    public long DataBytes => (2 * GptGeometry.FirstUsableLba * GptGeometry.SectorSize) + Partitions.Sum(partition => partition.DataBytes);

    /// <summary>Free space the output directory needs: the raw disk's data, twice for qcow2 (raw, then converted), plus slack.</summary>
    public long RequiredFreeBytes
    {
        get
        {
            var raw = DataBytes + (DataBytes / 100) + ByteSize.MiB;
            return Format == DiskImageFormat.Qcow2 ? 2 * raw : raw;
        }
    }

    /// <summary>
    /// Checks the sources against the layout and measures them: every label exists, every image exists and
    /// fits, in-place formats target ext4 partitions. Partitions without a source are left empty.
    /// </summary>
    public static DiskPlan Create(ResolvedDiskLayout layout, IEnumerable<PartitionSource> sources, string outputPath, DiskImageFormat format = DiskImageFormat.Raw)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);

        var byLabel = new Dictionary<string, PartitionSource>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            if (layout.Find(source.Label) is null)
            {
                throw new PartitionNotFoundException(source.Label, "the layout", layout.Partitions.Select(partition => partition.Label));
            }

            if (!byLabel.TryAdd(source.Label, source))
            {
                throw new InvalidLayoutException($"partition {source.Label} is given two sources");
            }
        }

        var planned = layout.Partitions
            .Select(placement => Measure(placement, byLabel.GetValueOrDefault(placement.Label) ?? PartitionSource.Empty(placement.Label)))
            .ToList();
        return new DiskPlan(layout, planned, Path.GetFullPath(outputPath), format);
    }

    public string ToJson() => JsonSerializer.Serialize(this, DiskJsonContext.Default.DiskPlan);

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"disk {OutputPath} ({Format.ToString().ToLowerInvariant()}), {ByteSize.Format(Layout.DiskBytes)}, GPT {Layout.DiskGuid}, seed '{Layout.Seed}'\n");
        text.Append(CultureInfo.InvariantCulture, $"writes {ByteSize.Format(DataBytes)} of data, needs {ByteSize.Format(RequiredFreeBytes)} free\n");
        foreach (var partition in Partitions)
        {
            var placement = partition.Placement;
            var content = partition.Source.Kind switch
            {
                PartitionContentKind.Image => $"image {partition.Source.ImagePath} ({ByteSize.Format(partition.ContentBytes)})",
                PartitionContentKind.FormatExt4 when partition.Source.SourceDirectory is { } directory => $"ext4 from {directory} ({ByteSize.Format(partition.ContentBytes)})",
                PartitionContentKind.FormatExt4 => "empty ext4",
                _ => "empty",
            };
            text.Append(CultureInfo.InvariantCulture,
                $"  {placement.Number} {placement.Label,-15} {placement.Spec.FileSystem.ToString().ToLowerInvariant(),-8} LBA {placement.FirstLba,10}–{placement.LastLba,-10} {ByteSize.Format(placement.SizeBytes),10}  label {placement.FileSystemLabel} uuid {placement.FileSystemUuid}  {content}\n");
        }

        return text.ToString();
    }

    private static PlannedPartition Measure(PartitionPlacement placement, PartitionSource source)
    {
        switch (source.Kind)
        {
            case PartitionContentKind.Image:
            {
                var path = source.ImagePath ?? throw new InvalidLayoutException($"partition {source.Label} has an image source without a path");
                if (!File.Exists(path))
                {
                    throw new DiskSourceNotFoundException(path, $"image for {source.Label}");
                }

                var status = Posix.GetStatus(path);
                if (status.Size > placement.SizeBytes)
                {
                    throw new ImageTooLargeException(placement.Label, path, status.Size, placement.SizeBytes);
                }

                return new PlannedPartition(placement, source with { ImagePath = Path.GetFullPath(path) }, status.Size, Math.Min(status.Size, status.AllocatedBytes));
            }

            case PartitionContentKind.FormatExt4:
            {
                if (placement.Spec.FileSystem != FileSystemKind.Ext4)
                {
                    throw new InvalidLayoutException($"partition {placement.Label} is {placement.Spec.FileSystem}, it cannot be formatted as ext4");
                }

                var payload = 0L;
                if (source.SourceDirectory is { } directory)
                {
                    payload = DirectoryTree.Measure(directory).BlockBytes;
                    var needed = Ext4Sizing.CapacityFor(payload);
                    if (needed > placement.SizeBytes)
                    {
                        throw new ImageTooLargeException(placement.Label, directory, needed, placement.SizeBytes);
                    }

                    source = source with { SourceDirectory = Path.GetFullPath(directory) };
                }

                // mke2fs writes superblocks, descriptors, bitmaps, the journal and the root; inode tables are initialised lazily.
                var metadata = Ext4Sizing.JournalBytes(placement.SizeBytes) + (placement.SizeBytes / 100) + ByteSize.MiB;
                return new PlannedPartition(placement, source, payload, payload + metadata);
            }

            default:
                return new PlannedPartition(placement, source, 0, 0);
        }
    }
}

/// <summary>What an assembly did; <paramref name="AllocatedBytes"/> is what the output really occupies (it is sparse).</summary>
public sealed record DiskAssemblyResult(string OutputPath, DiskImageFormat Format, long DiskBytes, long AllocatedBytes, TimeSpan Elapsed);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DiskPlan))]
[JsonSerializable(typeof(DiskAssemblyResult))]
[JsonSerializable(typeof(GptDisk))]
public sealed partial class DiskJsonContext : JsonSerializerContext;
