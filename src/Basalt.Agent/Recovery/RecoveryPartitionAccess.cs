using Basalt.Agent.Node;
using Basalt.Agent.Reset;
using Basalt.Boot;
using Basalt.Boot.Mounting;
using Basalt.Disk;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.Agent.Recovery;

/// <summary>COS_RECOVERY cannot be reached: no partition with that label, or it holds no recovery image.</summary>
public sealed class RecoveryPartitionUnavailableException : AgentException
{
    public RecoveryPartitionUnavailableException(string reason, string hint)
        : base($"the recovery partition cannot be used: {reason}", hint)
    {
    }

    public override string Kind => "recovery-partition-unavailable";
}

/// <summary>
/// COS_RECOVERY, reachable as a directory for as long as this lives. On an active or passive boot nothing mounts it,
/// so it is mounted here (read-only, or read-write for <c>upgrade --recovery</c>) and unmounted on dispose; booted
/// into recovery, the mounter already has it at <see cref="BootPlanner.LiveMountPoint"/>, read-only, and that mount
/// is used as it is. A directory that already holds a recovery image (tests, an offline tree) is used as it is.
/// </summary>
public sealed class RecoveryPartitionAccess : IAsyncDisposable
{
    private readonly IToolRunner _runner;
    private bool _mounted;

    private RecoveryPartitionAccess(IToolRunner runner, NodePaths paths, bool mounted)
    {
        _runner = runner;
        Paths = paths;
        _mounted = mounted;
    }

    /// <summary><see cref="NodePaths"/> whose <see cref="NodePaths.RecoveryMount"/> is where COS_RECOVERY is reachable now.</summary>
    public NodePaths Paths { get; }

    /// <param name="runner">Runs mount and umount.</param>
    /// <param name="paths">The node; its <see cref="NodePaths.RecoveryMount"/> is where COS_RECOVERY is mounted when it must be.</param>
    /// <param name="writable">Mount read-write (an upgrade of the recovery image); refused when booted into recovery.</param>
    /// <param name="deviceLinkDirectory">Where partition nodes are found by name.</param>
    public static async Task<RecoveryPartitionAccess> OpenAsync(IToolRunner runner, NodePaths paths, bool writable, string deviceLinkDirectory = "/dev/disk", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentException.ThrowIfNullOrEmpty(deviceLinkDirectory);
        if (HoldsRecoveryImage(paths))
        {
            return new RecoveryPartitionAccess(runner, paths, mounted: false);
        }

        var bootedRecovery = File.Exists(Path.Combine(paths.SentinelDirectory, "recovery_mode"));
        if (bootedRecovery)
        {
            if (writable)
            {
                throw new RecoveryPartitionUnavailableException(
                    "the node is running from it (booted into recovery)",
                    "boot the active or passive system, then upgrade the recovery image from there");
            }

            var live = paths with { RecoveryMount = BootPlanner.LiveMountPoint };
            if (HoldsRecoveryImage(live))
            {
                return new RecoveryPartitionAccess(runner, live, mounted: false);
            }
        }

        var device = ResetPlanner.FindPartition(deviceLinkDirectory, KairosLayout.RecoveryLabel)
            ?? throw new RecoveryPartitionUnavailableException(
                $"no partition labelled {KairosLayout.RecoveryLabel} under {deviceLinkDirectory}",
                "check that the node was installed by Basalt (lsblk -o NAME,LABEL,PARTLABEL)");
        Directory.CreateDirectory(paths.RecoveryMount);
        await runner.RunAsync(new ToolInvocation("mount", ["-o", writable ? "rw" : "ro", device, paths.RecoveryMount]) { Package = "mount" }, cancellationToken).ConfigureAwait(false);
        var access = new RecoveryPartitionAccess(runner, paths, mounted: true);
        if (!HoldsRecoveryImage(paths) && !writable)
        {
            await access.DisposeAsync().ConfigureAwait(false);
            throw new RecoveryPartitionUnavailableException(
                $"{device} holds neither {paths.RecoverySquashfs} nor {paths.RecoveryImage}",
                "write a recovery image with 'basalt upgrade --recovery --source SRC'");
        }

        return access;
    }

    private static bool HoldsRecoveryImage(NodePaths paths) => File.Exists(paths.RecoverySquashfs) || File.Exists(paths.RecoveryImage);

    public async ValueTask DisposeAsync()
    {
        if (_mounted)
        {
            _mounted = false;
            Posix.SyncFileSystem(Paths.RecoveryMount);
            await _runner.RunAsync(new ToolInvocation("umount", [Paths.RecoveryMount]) { Package = "mount" }).ConfigureAwait(false);
        }
    }
}
