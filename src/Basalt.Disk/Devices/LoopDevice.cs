using System.Globalization;
using Basalt.Disk.Gpt;
using Basalt.Platform;

namespace Basalt.Disk.Devices;

/// <summary>
/// A loop device attached to a file (or a byte range of it, e.g. one partition of a disk image) with
/// <c>losetup --find --show -o OFFSET --sizelimit SIZE</c>. Loop devices are scarce (this machine has
/// eight): dispose it in a finally, which detaches it.
/// </summary>
public sealed class LoopDevice : IAsyncDisposable, IDisposable
{
    public const string Tool = "losetup";
    public const string Package = "mount";

    private readonly IToolRunner _runner;
    private bool _detached;

    private LoopDevice(IToolRunner runner, string device, string backingFile, long offset, long? sizeLimit, bool readOnly)
    {
        _runner = runner;
        Device = device;
        BackingFile = backingFile;
        Offset = offset;
        SizeLimit = sizeLimit;
        ReadOnly = readOnly;
    }

    /// <summary>The device node, e.g. /dev/loop3.</summary>
    public string Device { get; }
    public string BackingFile { get; }
    public long Offset { get; }
    public long? SizeLimit { get; }
    public bool ReadOnly { get; }

    public static ToolInvocation DescribeAttach(string file, long offset = 0, long? sizeLimit = null, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var arguments = new List<string> { "--find", "--show" };
        if (offset > 0)
        {
            arguments.AddRange(["-o", offset.ToString(CultureInfo.InvariantCulture)]);
        }

        if (sizeLimit is { } limit)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit, nameof(sizeLimit));
            arguments.AddRange(["--sizelimit", limit.ToString(CultureInfo.InvariantCulture)]);
        }

        if (readOnly)
        {
            arguments.Add("-r");
        }

        arguments.Add(file);
        return new ToolInvocation(Tool, arguments) { Package = Package };
    }

    public static ToolInvocation DescribeDetach(string device) => new(Tool, ["-d", device]) { Package = Package };

    public static async Task<LoopDevice> AttachAsync(IToolRunner runner, string file, long offset = 0, long? sizeLimit = null, bool readOnly = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        if (!File.Exists(file))
        {
            throw new DiskSourceNotFoundException(file, "file to attach to a loop device");
        }

        ToolResult result;
        try
        {
            result = await runner.RunAsync(DescribeAttach(file, offset, sizeLimit, readOnly), cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new LoopDeviceException($"attaching '{file}' at offset {offset} to a loop device failed", failure);
        }

        var device = result.StandardOutput.Trim();
        if (!device.StartsWith("/dev/", StringComparison.Ordinal))
        {
            throw new LoopDeviceException($"losetup attached '{file}' but printed no device name ('{device}')");
        }

        return new LoopDevice(runner, device, Path.GetFullPath(file), offset, sizeLimit, readOnly);
    }

    public static LoopDevice Attach(IToolRunner runner, string file, long offset = 0, long? sizeLimit = null, bool readOnly = false) =>
        AttachAsync(runner, file, offset, sizeLimit, readOnly).GetAwaiter().GetResult();

    /// <summary>Attaches the partition named <paramref name="label"/> of a GPT disk image, limited to its byte range.</summary>
    public static Task<LoopDevice> AttachPartitionAsync(IToolRunner runner, string diskImage, string label, bool readOnly = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        var partition = GptReader.FindPartition(diskImage, label);
        return AttachAsync(runner, diskImage, partition.OffsetBytes(), partition.SizeBytes(), readOnly, cancellationToken);
    }

    /// <summary>Detaches; a second call does nothing.</summary>
    public async Task DetachAsync(CancellationToken cancellationToken = default)
    {
        if (_detached)
        {
            return;
        }

        try
        {
            await _runner.RunAsync(DescribeDetach(Device), cancellationToken).ConfigureAwait(false);
            _detached = true;
        }
        catch (ToolFailedException failure)
        {
            throw new LoopDeviceException($"detaching {Device} failed", failure);
        }
    }

    public ValueTask DisposeAsync() => new(DetachAsync());

    public void Dispose() => DetachAsync().GetAwaiter().GetResult();

    public override string ToString() => $"{Device} -> {BackingFile}@{Offset}" + (SizeLimit is { } limit ? $"+{limit}" : string.Empty);
}
