using System.Globalization;
using System.Text;
using Basalt.Disk.Gpt;
using Basalt.Platform;

namespace Basalt.Build.Artifacts;

/// <summary>
/// Reads and edits files of an ext4 partition inside a raw disk image without mounting it and without a loop
/// device: the partition is found in the GPT by its name and handed to <c>debugfs</c> as <c>disk?offset=N</c>.
/// For tests and offline fixes (<c>basalt bootentry --disk</c>); the disk must not be in use by a VM.
/// </summary>
public sealed class OfflineExt4Partition
{
    public const string Tool = "debugfs";
    public const string Package = "e2fsprogs";

    private static readonly byte[] Qcow2Magic = [(byte)'Q', (byte)'F', (byte)'I', 0xFB];

    private readonly IToolRunner _runner;

    private OfflineExt4Partition(IToolRunner runner, string disk, string label, long offsetBytes)
    {
        _runner = runner;
        Disk = disk;
        Label = label;
        OffsetBytes = offsetBytes;
    }

    public string Disk { get; }
    public string Label { get; }
    public long OffsetBytes { get; }

    /// <summary>What debugfs is given: the disk file with the partition's byte offset.</summary>
    public string DeviceSpec => string.Create(CultureInfo.InvariantCulture, $"{Disk}?offset={OffsetBytes}");

    /// <summary>Finds the partition named <paramref name="label"/> on the raw disk image <paramref name="disk"/>.</summary>
    public static OfflineExt4Partition Open(IToolRunner runner, string disk, string label)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentException.ThrowIfNullOrEmpty(disk);
        ArgumentException.ThrowIfNullOrEmpty(label);
        if (runner.Locate(Tool) is null)
        {
            throw new ToolNotFoundException(Tool, Package);
        }

        var full = Path.GetFullPath(disk);
        if (File.Exists(full) && IsQcow2(full))
        {
            throw new OfflineEditException($"'{full}' is a qcow2 image; offline edits need a raw disk", "build the disk with --format raw, or convert it with qemu-img convert -O raw");
        }

        var partition = GptReader.FindPartition(full, label);
        return new OfflineExt4Partition(runner, full, label, partition.OffsetBytes());
    }

    /// <summary>The content of <paramref name="path"/> inside the filesystem, or null when it does not exist.</summary>
    public async Task<byte[]?> ReadFileAsync(string path, CancellationToken cancellationToken = default)
    {
        ValidatePath(path);
        if (!await ExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var local = AtomicFile.TemporarySibling(Disk);
        try
        {
            await RunScriptAsync($"dump {Quote(path)} {Quote(local)}\n", write: false, cancellationToken).ConfigureAwait(false);
            if (!File.Exists(local))
            {
                throw new OfflineEditException($"debugfs could not read {path} from {Label} in '{Disk}'", "check the disk with fsck.ext4 (through a loop device)");
            }

            return await File.ReadAllBytesAsync(local, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(local);
        }
    }

    public async Task<bool> ExistsAsync(string path, CancellationToken cancellationToken = default)
    {
        ValidatePath(path);
        var result = await _runner.RunAsync(Describe($"stat {Quote(path)}\n", write: false), cancellationToken).ConfigureAwait(false);
        return !Complaints(result.StandardError).Any();
    }

    /// <summary>Replaces (or creates) <paramref name="path"/> with <paramref name="content"/>; its directory must exist.</summary>
    public async Task WriteFileAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        ValidatePath(path);
        var local = AtomicFile.TemporarySibling(Disk);
        try
        {
            await File.WriteAllBytesAsync(local, content, cancellationToken).ConfigureAwait(false);
            var exists = await ExistsAsync(path, cancellationToken).ConfigureAwait(false);
            var script = (exists ? $"rm {Quote(path)}\n" : string.Empty) + $"write {Quote(local)} {Quote(path)}\n";
            await RunScriptAsync(script, write: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(local);
        }
    }

    /// <summary>Deletes <paramref name="path"/>; fails when it does not exist.</summary>
    public async Task RemoveAsync(string path, CancellationToken cancellationToken = default)
    {
        ValidatePath(path);
        if (!await ExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            throw new OfflineEditException($"{Label} in '{Disk}' has no {path} to remove", "check the path (it is absolute, inside the partition)");
        }

        await RunScriptAsync($"rm {Quote(path)}\n", write: true, cancellationToken).ConfigureAwait(false);
    }

    private ToolInvocation Describe(string script, bool write)
    {
        var arguments = new List<string>();
        if (write)
        {
            arguments.Add("-w");
        }

        arguments.AddRange(["-f", "-", DeviceSpec]);
        return new ToolInvocation(Tool, arguments)
        {
            Package = Package,
            StandardInput = new MemoryStream(Encoding.UTF8.GetBytes(script)),
        };
    }

    private async Task RunScriptAsync(string script, bool write, CancellationToken cancellationToken)
    {
        var call = Describe(script, write);
        await using var input = call.StandardInput;
        ToolResult result;
        try
        {
            result = await _runner.RunAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new OfflineEditException($"debugfs failed on {Label} in '{Disk}'", "check that the disk is a Basalt disk and no VM is using it", failure);
        }

        // debugfs exits 0 even when a request fails; its complaints are the stderr lines past the version banner.
        var complaints = Complaints(result.StandardError).ToList();
        if (complaints.Count > 0)
        {
            throw new OfflineEditException($"debugfs refused an edit of {Label} in '{Disk}': {string.Join("; ", complaints)}", "check that the disk is a Basalt disk and no VM is using it");
        }
    }

    private static IEnumerable<string> Complaints(string standardError) =>
        standardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith("debugfs ", StringComparison.Ordinal));

    private static string Quote(string text) => "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static void ValidatePath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!path.StartsWith('/') || path.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{path}' must be an absolute path inside the filesystem, on one line", nameof(path));
        }
    }

    private static bool IsQcow2(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.Read(magic) == 4 && magic.SequenceEqual(Qcow2Magic);
    }
}
