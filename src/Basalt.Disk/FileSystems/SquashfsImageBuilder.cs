using System.Globalization;
using Basalt.Platform;

namespace Basalt.Disk.FileSystems;

public enum SquashfsCompression
{
    /// <summary>The smallest images; GRUB's squash4 module reads it (and gzip and lzo).</summary>
    Xz,

    /// <summary>About twice as fast to make as xz, a fifth larger; GRUB reads it.</summary>
    Gzip,

    /// <summary>The kernel reads it; GRUB 2.06's squash4 does not, so not for an image GRUB loops into.</summary>
    Zstd,
}

/// <summary>A squashfs image of <see cref="SourceDirectory"/>; file owners and modes are kept.</summary>
public sealed record SquashfsImageSpec(string SourceDirectory)
{
    public SquashfsCompression Compression { get; init; } = SquashfsCompression.Xz;

    /// <summary>The filesystem creation time recorded in the superblock; set it for reproducible images.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>When true, every file's mtime becomes <see cref="Timestamp"/> too (the source's times are dropped).</summary>
    public bool ClampFileTimes { get; init; }

    /// <summary>Threads mksquashfs may use; null: all processors.</summary>
    public int? Processors { get; init; }
}

/// <summary>Makes squashfs images with <c>mksquashfs</c>, built beside the target and renamed into place.</summary>
public sealed class SquashfsImageBuilder
{
    public const string Tool = "mksquashfs";
    public const string Package = "squashfs-tools";

    private const long BytesPerInode = 128;
    private const long FixedBytes = 8 * ByteSize.MiB;

    private readonly IToolRunner _runner;

    public SquashfsImageBuilder(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
    }

    /// <summary>
    /// An upper bound of the squashfs of <paramref name="tree"/>, whatever the compression: the uncompressed bytes plus
    /// inode and fixed metadata, aligned to a MiB. Used to size partitions and check free space before building.
    /// </summary>
    public static long UpperBoundBytes(DirectoryTreeSize tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        return ByteSize.AlignUp(tree.ApparentBytes + (tree.Inodes * BytesPerInode) + FixedBytes, ByteSize.MiB);
    }

    public static ToolInvocation Describe(string target, SquashfsImageSpec spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        var arguments = new List<string>
        {
            spec.SourceDirectory, target, "-noappend", "-no-progress", "-quiet",
            "-comp", spec.Compression.ToString().ToLowerInvariant(),
        };
        if (spec.Timestamp is { } time)
        {
            arguments.AddRange(["-mkfs-time", ToolSupport.Epoch(time)]);
            if (spec.ClampFileTimes)
            {
                arguments.AddRange(["-all-time", ToolSupport.Epoch(time)]);
            }
        }

        if (spec.Processors is { } processors)
        {
            arguments.AddRange(["-processors", processors.ToString(CultureInfo.InvariantCulture)]);
        }

        return new ToolInvocation(Tool, arguments) { Package = Package };
    }

    public async Task BuildAsync(string target, SquashfsImageSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.ClampFileTimes && spec.Timestamp is null)
        {
            throw new ArgumentException("ClampFileTimes needs a Timestamp", nameof(spec));
        }

        ToolSupport.EnsureTools(_runner, (Tool, Package));
        if (!Directory.Exists(spec.SourceDirectory))
        {
            throw new DiskSourceNotFoundException(spec.SourceDirectory, "source directory");
        }

        await ToolSupport.BuildAtomicallyAsync(target, temporary =>
            ToolSupport.RunAsync(_runner, Describe(temporary, spec), "squashfs", target, cancellationToken)).ConfigureAwait(false);
    }
}
