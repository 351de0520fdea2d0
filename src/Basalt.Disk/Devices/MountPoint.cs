using Basalt.Platform;

namespace Basalt.Disk.Devices;

/// <summary>What to mount where, as data.</summary>
public sealed record MountRequest(string Source, string Target)
{
    /// <summary>The <c>-t</c> type; null lets mount probe.</summary>
    public string? FileSystemType { get; init; }

    /// <summary>The <c>-o</c> options, e.g. "ro", "loop".</summary>
    public IReadOnlyList<string> Options { get; init; } = [];
}

/// <summary>A mounted filesystem made with <c>mount</c>; dispose it (in a finally) to <c>umount</c> it.</summary>
public sealed class MountPoint : IAsyncDisposable, IDisposable
{
    public const string Package = "mount";

    private readonly IToolRunner _runner;
    private bool _unmounted;

    private MountPoint(IToolRunner runner, MountRequest request)
    {
        _runner = runner;
        Request = request;
    }

    public MountRequest Request { get; }

    public string Target => Request.Target;

    public static ToolInvocation DescribeMount(MountRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var arguments = new List<string>();
        if (request.FileSystemType is { } type)
        {
            arguments.AddRange(["-t", type]);
        }

        if (request.Options.Count > 0)
        {
            arguments.AddRange(["-o", string.Join(',', request.Options)]);
        }

        arguments.Add(request.Source);
        arguments.Add(request.Target);
        return new ToolInvocation("mount", arguments) { Package = Package };
    }

    public static ToolInvocation DescribeUnmount(string target) => new("umount", [target]) { Package = Package };

    /// <summary>Mounts; the target directory is created when missing.</summary>
    public static async Task<MountPoint> MountAsync(IToolRunner runner, MountRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(request);
        Directory.CreateDirectory(request.Target);
        try
        {
            await runner.RunAsync(DescribeMount(request), cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new MountException($"mounting '{request.Source}' on '{request.Target}' failed", failure);
        }

        return new MountPoint(runner, request);
    }

    public static MountPoint Mount(IToolRunner runner, MountRequest request) => MountAsync(runner, request).GetAwaiter().GetResult();

    /// <summary>Unmounts; a second call does nothing.</summary>
    public async Task UnmountAsync(CancellationToken cancellationToken = default)
    {
        if (_unmounted)
        {
            return;
        }

        try
        {
            await _runner.RunAsync(DescribeUnmount(Request.Target), cancellationToken).ConfigureAwait(false);
            _unmounted = true;
        }
        catch (ToolFailedException failure)
        {
            throw new MountException($"unmounting '{Request.Target}' failed", failure);
        }
    }

    public ValueTask DisposeAsync() => new(UnmountAsync());

    public void Dispose() => UnmountAsync().GetAwaiter().GetResult();
}

/// <summary>
/// One partition of a disk image, attached to a loop device limited to its byte range and mounted.
/// Disposing unmounts and then detaches, and detaches even when the unmount fails.
/// </summary>
public sealed class MountedPartition : IAsyncDisposable, IDisposable
{
    private MountedPartition(LoopDevice loop, MountPoint mount)
    {
        Loop = loop;
        Mount = mount;
    }

    public LoopDevice Loop { get; }
    public MountPoint Mount { get; }
    public string Target => Mount.Target;

    public static async Task<MountedPartition> MountAsync(
        IToolRunner runner, string diskImage, string label, string target, bool readOnly = true, string? fileSystemType = null, CancellationToken cancellationToken = default)
    {
        var loop = await LoopDevice.AttachPartitionAsync(runner, diskImage, label, readOnly, cancellationToken).ConfigureAwait(false);
        try
        {
            var request = new MountRequest(loop.Device, target) { FileSystemType = fileSystemType, Options = readOnly ? ["ro"] : [] };
            var mount = await MountPoint.MountAsync(runner, request, cancellationToken).ConfigureAwait(false);
            return new MountedPartition(loop, mount);
        }
        catch
        {
            await loop.DetachAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Mount.UnmountAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await Loop.DetachAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
