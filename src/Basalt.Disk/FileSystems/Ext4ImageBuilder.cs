using System.Globalization;
using Basalt.Disk.Assembly;
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
    /// When set, the times mke2fs stamps itself (superblock, root, lost+found, journal) are this one, and after a
    /// <c>-d</c> copy the atime and ctime of every copied entry are set to it with debugfs (mke2fs 1.47.0 copies
    /// them from the source, where they change on every unpack). Files keep their mtime. Entries whose name
    /// holds a newline cannot be named in a debugfs script and keep the source's atime and ctime.
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
    public const string DebugfsTool = "debugfs";
    public const string Tune2fsTool = "tune2fs";

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

    /// <summary>
    /// The debugfs call that sets atime and ctime of the root and every entry of <paramref name="sourceDirectory"/>
    /// to <paramref name="time"/> inside the filesystem at <paramref name="target"/> (offset <paramref name="offsetBytes"/>).
    /// The script goes to debugfs on stdin.
    /// </summary>
    public static ToolInvocation DescribeTimeClamp(string target, string sourceDirectory, DateTimeOffset time, long offsetBytes = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        var epoch = ToolSupport.Epoch(time);
        var script = new System.Text.StringBuilder();
        foreach (var path in EntriesOf(sourceDirectory).Where(path => !path.Contains('\n', StringComparison.Ordinal)))
        {
            var quoted = "\"" + path.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
            script.Append(CultureInfo.InvariantCulture, $"sif {quoted} atime {epoch}\nsif {quoted} ctime {epoch}\n");
        }

        var device = offsetBytes > 0 ? string.Create(CultureInfo.InvariantCulture, $"{target}?offset={offsetBytes}") : target;
        return new ToolInvocation(DebugfsTool, ["-w", "-f", "-", device])
        {
            Package = Package,
            // Closing the filesystem stamps the superblock write time; pin it like mke2fs's.
            Environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["E2FSPROGS_FAKE_TIME"] = epoch },
            StandardInput = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(script.ToString())),
        };
    }

    /// <summary>Makes a standalone image file at <paramref name="target"/> (replaced atomically).</summary>
    public async Task BuildAsync(string target, Ext4ImageSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec, 0);
        EnsureTools(spec);
        CheckSource(spec);
        await ToolSupport.BuildAtomicallyAsync(target, async temporary =>
        {
            await ToolSupport.RunAsync(_runner, Describe(temporary, spec), "ext4", target, cancellationToken).ConfigureAwait(false);
            await ClampTimesAsync(temporary, spec, 0, target, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes <paramref name="target"/> (replaced atomically) a sparse copy of the ext4 image <paramref name="sourceImage"/>
    /// with its own <paramref name="label"/> and <paramref name="uuid"/>: the same tree as a second image for a fraction of
    /// a second mkfs (tune2fs rewrites the metadata checksums the UUID seeds).
    /// </summary>
    public async Task CloneAsync(string sourceImage, string target, string label, Guid uuid, DateTimeOffset? timestamp = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceImage);
        ArgumentException.ThrowIfNullOrEmpty(target);
        Validate(new Ext4ImageSpec(label, uuid, Ext4Sizing.BlockSize), 0);
        if (!File.Exists(sourceImage))
        {
            throw new DiskSourceNotFoundException(sourceImage, "ext4 image");
        }

        ToolSupport.EnsureTools(_runner, (Tune2fsTool, Package));
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (timestamp is { } time)
        {
            environment["E2FSPROGS_FAKE_TIME"] = ToolSupport.Epoch(time);
        }

        await ToolSupport.BuildAtomicallyAsync(target, async temporary =>
        {
            SparseCopy.CopyFile(sourceImage, temporary, cancellationToken);
            var relabel = new ToolInvocation(Tune2fsTool, ["-L", label, "-U", uuid.ToString("D"), temporary]) { Package = Package, Environment = environment };
            await ToolSupport.RunAsync(_runner, relabel, "ext4", target, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>Formats the region [<paramref name="offsetBytes"/>, +SizeBytes) of an existing disk file.</summary>
    public async Task FormatInPlaceAsync(string diskFile, long offsetBytes, Ext4ImageSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(diskFile);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec, offsetBytes);
        EnsureTools(spec);
        CheckSource(spec);
        if (!File.Exists(diskFile))
        {
            throw new DiskSourceNotFoundException(diskFile, "disk file");
        }

        var description = $"{diskFile}@{offsetBytes}";
        await ToolSupport.RunAsync(_runner, Describe(diskFile, spec, offsetBytes), "ext4", description, cancellationToken).ConfigureAwait(false);
        await ClampTimesAsync(diskFile, spec, offsetBytes, description, cancellationToken).ConfigureAwait(false);
    }

    private async Task ClampTimesAsync(string file, Ext4ImageSpec spec, long offsetBytes, string description, CancellationToken cancellationToken)
    {
        if (spec is not { SourceDirectory: { } source, Timestamp: { } time })
        {
            return;
        }

        var call = DescribeTimeClamp(file, source, time, offsetBytes);
        await using var script = call.StandardInput;
        ToolResult result;
        try
        {
            result = await _runner.RunAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new FileSystemBuildException("ext4", description, failure);
        }

        // debugfs exits 0 even when a request fails; its complaints are the stderr lines past the version banner.
        var complaints = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith("debugfs ", StringComparison.Ordinal))
            .ToList();
        if (complaints.Count > 0)
        {
            throw new FileSystemBuildException("ext4", description, new ToolFailedException(call.CommandLine, result.ExitCode, string.Join('\n', complaints)));
        }
    }

    /// <summary>"/" and every entry below <paramref name="root"/> as absolute paths inside the image; symlinks are not followed.</summary>
    private static IEnumerable<string> EntriesOf(string root)
    {
        yield return "/";
        var pending = new Stack<(string Host, string Image)>();
        pending.Push((root, string.Empty));
        var options = new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = false, IgnoreInaccessible = false };
        while (pending.Count > 0)
        {
            var (host, image) = pending.Pop();
            foreach (var entry in Directory.EnumerateFileSystemEntries(host, "*", options).Order(StringComparer.Ordinal))
            {
                var inside = image + "/" + Path.GetFileName(entry);
                yield return inside;
                if (Posix.GetStatus(entry).Kind == UnixFileKind.Directory)
                {
                    pending.Push((entry, inside));
                }
            }
        }
    }

    private void EnsureTools(Ext4ImageSpec spec)
    {
        ToolSupport.EnsureTools(_runner, (Tool, Package));
        if (spec is { SourceDirectory: not null, Timestamp: not null })
        {
            ToolSupport.EnsureTools(_runner, (DebugfsTool, Package));
        }
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
