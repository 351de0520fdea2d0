using System.Globalization;
using Basalt.Platform;

namespace Basalt.Disk.FileSystems;

/// <summary>One host file placed at <paramref name="Target"/> (a '/'-separated path) inside a FAT image.</summary>
public sealed record VfatFile(string Source, string Target);

/// <summary>A FAT filesystem (the ESP) with files from <see cref="SourceDirectory"/> and/or <see cref="Files"/>.</summary>
/// <param name="Label">Volume label, at most 11 characters.</param>
/// <param name="VolumeId">The 32-bit volume serial (what blkid shows as UUID XXXX-XXXX).</param>
/// <param name="SizeBytes">Image size, a multiple of 1 KiB.</param>
public sealed record VfatImageSpec(string Label, uint VolumeId, long SizeBytes)
{
    /// <summary>Its contents are copied to the root of the image, recursively.</summary>
    public string? SourceDirectory { get; init; }

    public IReadOnlyList<VfatFile> Files { get; init; } = [];

    /// <summary>The time given to directories mtools creates; file times come from the sources.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>FAT width (12, 16, 32); null lets mkfs.vfat choose by size.</summary>
    public int? FatBits { get; init; }
}

/// <summary>
/// Makes FAT images without mounting (this host has no vfat driver): <c>mkfs.vfat -C</c>, then
/// <c>mmd</c>/<c>mcopy</c> from mtools. Built beside the target and renamed into place.
/// </summary>
public sealed class VfatImageBuilder
{
    public const string MkfsTool = "mkfs.vfat";
    public const string MkfsPackage = "dosfstools";
    public const string MtoolsPackage = "mtools";

    private readonly IToolRunner _runner;

    public VfatImageBuilder(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
    }

    /// <summary>Every tool call that builds <paramref name="spec"/> into <paramref name="target"/>, in order.</summary>
    public static IReadOnlyList<ToolInvocation> Describe(string target, VfatImageSpec spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec);

        var environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["MTOOLS_SKIP_CHECK"] = "1" };
        if (spec.Timestamp is { } time)
        {
            environment["SOURCE_DATE_EPOCH"] = ToolSupport.Epoch(time);
        }

        var mkfs = new List<string> { "--invariant", "-C", target, ToolSupport.Kibibytes(spec.SizeBytes), "-n", spec.Label, "-i", spec.VolumeId.ToString("x8", CultureInfo.InvariantCulture) };
        if (spec.FatBits is { } bits)
        {
            mkfs.AddRange(["-F", bits.ToString(CultureInfo.InvariantCulture)]);
        }

        var calls = new List<ToolInvocation> { new(MkfsTool, mkfs) { Package = MkfsPackage, Environment = environment } };
        if (spec.SourceDirectory is { } source)
        {
            var entries = Directory.Exists(source)
                ? Directory.EnumerateFileSystemEntries(source).Order(StringComparer.Ordinal).ToList()
                : [];
            if (entries.Count > 0)
            {
                calls.Add(new ToolInvocation("mcopy", ["-s", "-m", "-Q", "-i", target, .. entries, "::/"]) { Package = MtoolsPackage, Environment = environment });
            }
        }

        var created = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in spec.Files)
        {
            var parts = file.Target.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (var depth = 1; depth < parts.Length; depth++)
            {
                var directory = string.Join('/', parts[..depth]);
                if (created.Add(directory) && !ExistsInSourceDirectory(spec, directory))
                {
                    calls.Add(new ToolInvocation("mmd", ["-i", target, "::/" + directory]) { Package = MtoolsPackage, Environment = environment });
                }
            }

            calls.Add(new ToolInvocation("mcopy", ["-o", "-m", "-Q", "-i", target, file.Source, "::/" + string.Join('/', parts)]) { Package = MtoolsPackage, Environment = environment });
        }

        return calls;
    }

    public async Task BuildAsync(string target, VfatImageSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec);
        ToolSupport.EnsureTools(_runner, (MkfsTool, MkfsPackage), ("mmd", MtoolsPackage), ("mcopy", MtoolsPackage));
        if (spec.SourceDirectory is { } source && !Directory.Exists(source))
        {
            throw new DiskSourceNotFoundException(source, "source directory");
        }

        foreach (var file in spec.Files.Where(file => !File.Exists(file.Source)))
        {
            throw new DiskSourceNotFoundException(file.Source, "file for the FAT image");
        }

        await ToolSupport.BuildAtomicallyAsync(target, async temporary =>
        {
            foreach (var call in Describe(temporary, spec))
            {
                await ToolSupport.RunAsync(_runner, call, "vfat", target, cancellationToken).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
    }

    private static bool ExistsInSourceDirectory(VfatImageSpec spec, string directory) =>
        spec.SourceDirectory is { } source && Directory.Exists(Path.Combine(source, directory));

    private static void Validate(VfatImageSpec spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec.Label);
        if (spec.Label.Length > 11)
        {
            throw new ArgumentException($"FAT label '{spec.Label}' is longer than 11 characters", nameof(spec));
        }

        if (spec.SizeBytes < 64 * ByteSize.KiB || spec.SizeBytes % ByteSize.KiB != 0)
        {
            throw new ArgumentException($"FAT image size {spec.SizeBytes} must be a multiple of 1 KiB and at least 64 KiB", nameof(spec));
        }

        foreach (var file in spec.Files)
        {
            if (string.IsNullOrWhiteSpace(file.Target) || file.Target.Split('/').Any(part => part is "." or ".."))
            {
                throw new ArgumentException($"'{file.Target}' is not a path inside the FAT image", nameof(spec));
            }
        }
    }
}
