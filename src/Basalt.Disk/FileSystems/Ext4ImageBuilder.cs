using System.Globalization;
using Basalt.Platform;

namespace Basalt.Disk.FileSystems;

/// <summary>An ext4 filesystem to make: empty, or filled from <see cref="SourceDirectory"/> (owners kept).</summary>
/// <param name="Label">Filesystem label (at most 16 characters).</param>
/// <param name="Uuid">Filesystem UUID; also the directory hash seed, so the image is reproducible.</param>
/// <param name="SizeBytes">Filesystem size, a multiple of 4 KiB.</param>
public sealed record Ext4ImageSpec(string Label, Guid Uuid, long SizeBytes)
{
    public string? SourceDirectory { get; init; }

    /// <summary>Inode count (<c>-N</c>); null lets mke2fs use one inode per 16 KiB.</summary>
    public long? InodeCount { get; init; }

    /// <summary>Reserved-blocks percentage (<c>-m</c>); null keeps mke2fs's 5%. Read-only images want 0.</summary>
    public int? ReservedPercent { get; init; }

    /// <summary>
    /// When set, the times mke2fs stamps itself (superblock, root, lost+found, journal) are this one. Files
    /// copied by <c>-d</c> keep the source's mtime but also its atime and ctime (e2fsprogs 1.47.0), so an image
    /// is byte-identical only when built again from a tree whose times have not changed.
    /// </summary>
    public DateTimeOffset? Timestamp { get; init; }
}

/// <summary>
/// Makes ext4 images with <c>mkfs.ext4</c>: as a file of their own (built beside the target, renamed into
/// place) or directly inside a disk file at a partition offset (<c>-E offset=</c>), with no mount and no loop device.
/// </summary>
public sealed class Ext4ImageBuilder
{
    public const string Tool = "mkfs.ext4";
    public const string Package = "e2fsprogs";

    private readonly IToolRunner _runner;

    public Ext4ImageBuilder(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
    }

    /// <summary>The mkfs.ext4 call that makes <paramref name="spec"/> in <paramref name="target"/> at <paramref name="offsetBytes"/>.</summary>
    public static ToolInvocation Describe(string target, Ext4ImageSpec spec, long offsetBytes = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec, offsetBytes);

        var uuid = spec.Uuid.ToString("D");
        var extended = $"root_owner=0:0,hash_seed={uuid},nodiscard";
        if (offsetBytes > 0)
        {
            extended += string.Create(CultureInfo.InvariantCulture, $",offset={offsetBytes}");
        }

        var arguments = new List<string> { "-q", "-F", "-T", "default", "-L", spec.Label, "-U", uuid, "-E", extended };
        if (spec.InodeCount is { } inodes)
        {
            arguments.AddRange(["-N", inodes.ToString(CultureInfo.InvariantCulture)]);
        }

        if (spec.ReservedPercent is { } reserved)
        {
            arguments.AddRange(["-m", reserved.ToString(CultureInfo.InvariantCulture)]);
        }

        if (spec.SourceDirectory is { } source)
        {
            arguments.AddRange(["-d", source]);
        }

        arguments.Add(target);
        arguments.Add(ToolSupport.Kibibytes(spec.SizeBytes) + "k");

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spec.Timestamp is { } time)
        {
            environment["E2FSPROGS_FAKE_TIME"] = ToolSupport.Epoch(time);
            environment["SOURCE_DATE_EPOCH"] = ToolSupport.Epoch(time);
        }

        return new ToolInvocation(Tool, arguments) { Package = Package, Environment = environment };
    }

    /// <summary>Makes a standalone image file at <paramref name="target"/> (replaced atomically).</summary>
    public async Task BuildAsync(string target, Ext4ImageSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec, 0);
        ToolSupport.EnsureTools(_runner, (Tool, Package));
        CheckSource(spec);
        await ToolSupport.BuildAtomicallyAsync(target, temporary =>
            ToolSupport.RunAsync(_runner, Describe(temporary, spec), "ext4", target, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Formats the region [<paramref name="offsetBytes"/>, +SizeBytes) of an existing disk file.</summary>
    public async Task FormatInPlaceAsync(string diskFile, long offsetBytes, Ext4ImageSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(diskFile);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec, offsetBytes);
        ToolSupport.EnsureTools(_runner, (Tool, Package));
        CheckSource(spec);
        if (!File.Exists(diskFile))
        {
            throw new DiskSourceNotFoundException(diskFile, "disk file");
        }

        await ToolSupport.RunAsync(_runner, Describe(diskFile, spec, offsetBytes), "ext4", $"{diskFile}@{offsetBytes}", cancellationToken).ConfigureAwait(false);
    }

    private static void CheckSource(Ext4ImageSpec spec)
    {
        if (spec.SourceDirectory is { } source && !Directory.Exists(source))
        {
            throw new DiskSourceNotFoundException(source, "source directory");
        }
    }

    private static void Validate(Ext4ImageSpec spec, long offsetBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec.Label);
        if (spec.Label.Length > 16)
        {
            throw new ArgumentException($"ext4 label '{spec.Label}' is longer than 16 characters", nameof(spec));
        }

        if (spec.SizeBytes <= 0 || spec.SizeBytes % Ext4Sizing.BlockSize != 0)
        {
            throw new ArgumentException($"ext4 size {spec.SizeBytes} must be a positive multiple of {Ext4Sizing.BlockSize}", nameof(spec));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(offsetBytes);
    }
}
