using Basalt.Boot.Grub;

namespace Basalt.Agent.Node;

/// <summary>
/// Where a running node's partitions are mounted and where the lifecycle keeps its files. The defaults are
/// those of a booted Basalt node (the mounter mounts COS_STATE read-only at <c>/run/initramfs/cos-state</c>);
/// tests and offline tools point every mount at a directory of their own.
/// </summary>
public sealed record NodePaths
{
    public static NodePaths Running { get; } = new();

    /// <summary>The running system's root, where the lifecycle stages around an upgrade act (before-upgrade, after-upgrade).</summary>
    public string SystemRoot { get; init; } = "/";

    /// <summary>COS_STATE: holds <c>/cOS/active.img</c>, <c>passive.img</c>, <c>transition.img</c>, the menu.</summary>
    public string StateMount { get; init; } = "/run/initramfs/cos-state";

    /// <summary>COS_RECOVERY: <c>/cOS/recovery.squashfs</c> or <c>recovery.img</c>.</summary>
    public string RecoveryMount { get; init; } = "/run/basalt/cos-recovery";

    /// <summary>COS_OEM: grubenv and the node's cloud-config.</summary>
    public string OemMount { get; init; } = "/oem";

    /// <summary>COS_PERSISTENT: the blob store and the lifecycle's own files survive here.</summary>
    public string PersistentMount { get; init; } = "/usr/local";

    public string ActiveImage => Path.Combine(StateMount, "cOS", "active.img");

    public string PassiveImage => Path.Combine(StateMount, "cOS", "passive.img");

    public string TransitionImage => Path.Combine(StateMount, "cOS", "transition.img");

    public string RecoverySquashfs => Path.Combine(RecoveryMount, "cOS", "recovery.squashfs");

    public string RecoveryImage => Path.Combine(RecoveryMount, "cOS", "recovery.img");

    public string RecoveryTransitionImage => Path.Combine(RecoveryMount, "cOS", "transition.img");

    /// <summary>The grubenv the boot menu reads and writes (boot counting, next_entry).</summary>
    public string GrubEnvironment => Path.Combine(OemMount, GrubPaths.Environment.TrimStart('/'));

    /// <summary>Lifecycle files that must survive a reset of nothing but the images: history, journal, slot metadata.</summary>
    public string AgentDirectory => Path.Combine(PersistentMount, ".basalt");

    /// <summary>The OCI blob store: layers already here are never downloaded again.</summary>
    public string BlobStore => Path.Combine(AgentDirectory, "blobs");

    /// <summary>The unpacked tree of the last staged image, kept by the chain ID of its layers (<see cref="Upgrade.KeptTreeStore"/>).</summary>
    public string TreeCacheDirectory => Path.Combine(AgentDirectory, "trees");

    /// <summary>The step journal of an upgrade, rollback or reset in progress.</summary>
    public string Journal => Path.Combine(AgentDirectory, "journal.json");

    /// <summary>The lifecycle history (<see cref="History.ILifecycleHistory"/>).</summary>
    public string History => Path.Combine(AgentDirectory, "history.jsonl");

    /// <summary>What each slot holds (image reference, digest, build date), written with the image it describes.</summary>
    public string SlotsFile => Path.Combine(StateMount, "cOS", "slots.json");

    /// <summary>Where the mounter writes the boot mode sentinels (<c>{active,passive,recovery}_mode</c>).</summary>
    public string SentinelDirectory { get; init; } = "/run/cos";

    /// <summary>The running kernel's command line (which image the menu booted).</summary>
    public string KernelCommandLine { get; init; } = "/proc/cmdline";

    /// <summary>The mount table, for the device behind each partition's mount point.</summary>
    public string MountInfo { get; init; } = "/proc/self/mountinfo";

    /// <summary>Sentinel for hooks: the last upgrade's new image failed its boots and the node fell back.</summary>
    public string UpgradeFailureSentinel => Path.Combine(SentinelDirectory, "upgrade_failure");

    /// <summary>
    /// The same layout with every path under <paramref name="root"/> (a node tree prepared by tests, or a node's
    /// mounts gathered under one directory).
    /// </summary>
    public static NodePaths Under(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var running = Running;
        string Rooted(string path) => Path.Combine(Path.GetFullPath(root), path.TrimStart('/'));
        return new NodePaths
        {
            SystemRoot = Path.GetFullPath(root),
            StateMount = Rooted(running.StateMount),
            RecoveryMount = Rooted(running.RecoveryMount),
            OemMount = Rooted(running.OemMount),
            PersistentMount = Rooted(running.PersistentMount),
            SentinelDirectory = Rooted(running.SentinelDirectory),
            KernelCommandLine = Rooted(running.KernelCommandLine),
            MountInfo = Rooted(running.MountInfo),
        };
    }
}
