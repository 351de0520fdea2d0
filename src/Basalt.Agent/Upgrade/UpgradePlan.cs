using Basalt.Disk;
using Basalt.Disk.FileSystems;

namespace Basalt.Agent.Upgrade;

/// <summary>One layer of the new image and whether it is already in the node's blob store.</summary>
public sealed record PlannedLayer(string Digest, long Size, bool Present);

/// <summary>A resource the operation needs, what it needs and what there is.</summary>
public sealed record ResourceCheck(string Name, string Path, long NeededBytes, long AvailableBytes)
{
    public bool Satisfied => AvailableBytes >= NeededBytes;
}

/// <summary>What the source resolved to, as the preflight needs it (no layer is fetched to know this).</summary>
public sealed record ResolvedUpgradeImage(string Name, string Digest, DateTimeOffset? Created, long ManifestAndConfigBytes, IReadOnlyList<PlannedLayer> Layers);

/// <summary>Everything the preflight decides from, gathered before anything is written.</summary>
public sealed record UpgradeFacts(
    string Source,
    ResolvedUpgradeImage Image,
    string? ActiveDigest,
    int BootTries,
    long AvailableMemoryBytes,
    long MinimumMemoryBytes,
    string PersistentPath,
    long PersistentAvailableBytes);

/// <summary>
/// The upgrade as data, decided before anything is touched: what will be fetched, what is already here, whether it
/// is a no-op, and the checks it must pass (printed by <c>--dry-run</c> and <c>-o json</c>). The COS_STATE check is
/// added once the staged tree is measured (<see cref="WithStateCheck"/>).
/// </summary>
public sealed record UpgradePlan(
    string Source,
    string ImageName,
    string Digest,
    string? ActiveDigest,
    DateTimeOffset? BuildDate,
    bool NoOp,
    IReadOnlyList<PlannedLayer> Layers,
    long DownloadBytes,
    int BootTries,
    IReadOnlyList<ResourceCheck> Checks,
    IReadOnlyList<string> Steps)
{
    /// <summary>Bytes of the ext4 transition image measured from the staged tree; null until it is measured.</summary>
    public long? TransitionBytes { get; init; }

    public int LayersPresent => Layers.Count(l => l.Present);

    public string Summary => NoOp
        ? $"{ImageName} ({Digest}) is already active: nothing to do"
        : $"upgrade to {ImageName} ({Digest}): {Layers.Count - LayersPresent} of {Layers.Count} layers to fetch ({ByteSize.Format(DownloadBytes)})";

    /// <summary>Throws the typed refusal of the first check that fails.</summary>
    public void EnsureAllowed()
    {
        foreach (var check in Checks.Where(c => !c.Satisfied))
        {
            throw check.Name switch
            {
                UpgradePlanner.MemoryCheck => new NotEnoughMemoryException(check.NeededBytes, check.AvailableBytes),
                UpgradePlanner.StateCheck => new NotEnoughSpaceException("COS_STATE", check.Path, check.NeededBytes, check.AvailableBytes, "the transition image"),
                _ => new NotEnoughSpaceException("COS_PERSISTENT", check.Path, check.NeededBytes, check.AvailableBytes, "fetching and unpacking the image"),
            };
        }
    }

    /// <summary>The plan with the COS_STATE check for a transition image holding <paramref name="tree"/>.</summary>
    public UpgradePlan WithStateCheck(DirectoryTreeSize tree, string statePath, long stateAvailableBytes)
    {
        ArgumentNullException.ThrowIfNull(tree);
        var size = UpgradePlanner.TransitionSize(tree);
        return this with
        {
            TransitionBytes = size.ImageBytes,
            Checks = [.. Checks.Where(c => c.Name != UpgradePlanner.StateCheck), new ResourceCheck(UpgradePlanner.StateCheck, statePath, size.ImageBytes + UpgradePlanner.StateMarginBytes, stateAvailableBytes)],
        };
    }
}

/// <summary>The preflight's decisions, as pure functions of <see cref="UpgradeFacts"/>.</summary>
public static class UpgradePlanner
{
    public const string MemoryCheck = "memory";
    public const string PersistentCheck = "persistent-space";
    public const string StateCheck = "state-space";

    /// <summary>Room beside the transition image on COS_STATE for the slots file and the menu.</summary>
    public const long StateMarginBytes = 16 * ByteSize.MiB;

    /// <summary>Room on COS_PERSISTENT beyond the blobs and the tree (metadata, temporary files).</summary>
    public const long PersistentMarginBytes = 64 * ByteSize.MiB;

    public const long DefaultMinimumMemoryBytes = 128 * ByteSize.MiB;

    /// <summary>Extra room in the transition image beyond the tree, in percent.</summary>
    public const int TransitionHeadroomPercent = 10;

    public static IReadOnlyList<string> UpgradeSteps { get; } =
        ["recover-interrupted", "fetch-missing-layers", "unpack-to-staging", "measure-and-check-state-space", "build-transition-image", "arm-boot-counting", "exchange-active", "relabel-old-active-passive", "retire-old-active-to-passive", "install-menu", "record-slots", "record-history"];

    public static UpgradePlan Plan(UpgradeFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var image = facts.Image;
        var noOp = facts.ActiveDigest is not null && string.Equals(facts.ActiveDigest, image.Digest, StringComparison.Ordinal);
        var download = image.Layers.Where(l => !l.Present).DistinctBy(l => l.Digest).Sum(l => l.Size);
        var compressed = image.Layers.DistinctBy(l => l.Digest).Sum(l => l.Size);
        IReadOnlyList<ResourceCheck> checks = noOp
            ? []
            :
            [
                new ResourceCheck(MemoryCheck, "/proc/meminfo", facts.MinimumMemoryBytes, facts.AvailableMemoryBytes),
                // The missing blobs, and the unpacked tree, which is at least as large as the compressed layers.
                new ResourceCheck(PersistentCheck, facts.PersistentPath, download + compressed + image.ManifestAndConfigBytes + PersistentMarginBytes, facts.PersistentAvailableBytes),
            ];
        return new UpgradePlan(
            facts.Source,
            image.Name,
            image.Digest,
            facts.ActiveDigest,
            image.Created,
            noOp,
            image.Layers,
            noOp ? 0 : download,
            facts.BootTries,
            checks,
            noOp ? [] : UpgradeSteps);
    }

    /// <summary>The ext4 image that holds <paramref name="tree"/> with headroom; no reserved blocks (the image is read-only).</summary>
    public static Ext4SizeEstimate TransitionSize(DirectoryTreeSize tree) => Ext4Sizing.ForTree(tree, TransitionHeadroomPercent, reservedPercent: 0);
}
