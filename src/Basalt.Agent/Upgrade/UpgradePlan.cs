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
public sealed record ResolvedUpgradeImage(string Name, string Digest, DateTimeOffset? Created, long ManifestAndConfigBytes, IReadOnlyList<PlannedLayer> Layers)
{
    /// <summary>The diff_ids the config names, one per layer, in order (empty when not known).</summary>
    public IReadOnlyList<string> DiffIds { get; init; } = [];
}

/// <summary>An unpacked tree kept on COS_PERSISTENT (<see cref="KeptTreeStore"/>) and what dropping it would free.</summary>
/// <param name="ChainId">The chain ID of the layers it was unpacked from.</param>
/// <param name="Bytes">Block bytes it takes; measured only for a tree the upgrade will drop, else 0.</param>
public sealed record KeptTree(string ChainId, long Bytes);

/// <summary>The kept tree an upgrade starts from: it holds the first <paramref name="LayersReused"/> layers of the new image.</summary>
public sealed record KeptTreeUse(string ChainId, int LayersReused);

/// <summary>Everything the preflight decides from, gathered before anything is written.</summary>
public sealed record UpgradeFacts(
    string Source,
    ResolvedUpgradeImage Image,
    string? ActiveDigest,
    int BootTries,
    long AvailableMemoryBytes,
    long MinimumMemoryBytes,
    string PersistentPath,
    long PersistentAvailableBytes)
{
    /// <summary>The trees kept on COS_PERSISTENT now.</summary>
    public IReadOnlyList<KeptTree> KeptTrees { get; init; } = [];

    /// <summary>Whether the staged tree is to be kept after the upgrade (the service knows: the option, and no chroot stage changing it).</summary>
    public bool KeepTree { get; init; }

    /// <summary>
    /// Whether the layers are streamed straight into the transition image, with no staged tree (the service knows: the
    /// option, and no chroot stage that needs a tree). Every kept tree is then dropped: nothing builds on it.
    /// </summary>
    public bool StreamToImage { get; init; }

    /// <summary>Where COS_STATE is mounted and its free bytes; checked up front when the layers are streamed.</summary>
    public string StatePath { get; init; } = string.Empty;

    public long StateAvailableBytes { get; init; }
}

/// <summary>
/// The upgrade as data, decided before anything is touched: what will be fetched, what is already here, whether it
/// is a no-op, and the checks it must pass (printed by <c>--dry-run</c> and <c>-o json</c>). A streamed plan checks
/// COS_STATE up front against the compressed layers (a lower bound; the image writer enforces the rest); a staged one
/// once the tree is measured (<see cref="WithStateCheck"/>).
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

    /// <summary>The chain ID of the new image's layers (null when its diff_ids are not known).</summary>
    public string? ChainId { get; init; }

    /// <summary>The kept tree the staging starts from (renamed to the staging path, only the layers above it applied); null: a full unpack.</summary>
    public KeptTreeUse? ReusedTree { get; init; }

    /// <summary>Kept trees this upgrade removes (before it unpacks, so their space is free for the new tree).</summary>
    public IReadOnlyList<string> DroppedTrees { get; init; } = [];

    /// <summary>The chain ID the staged tree is kept under once the swap is done; null: it is deleted.</summary>
    public string? KeepTreeAs { get; init; }

    /// <summary>The layers are streamed straight into the transition image: no staged tree, no kept tree.</summary>
    public bool Streamed { get; init; }

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

    /// <summary>The steps a streamed upgrade takes in place of the staging ones.</summary>
    private static readonly string[] StagedTreeSteps = ["unpack-to-staging", "measure-and-check-state-space", "build-transition-image"];

    public const string StreamStep = "stream-layers-into-transition-image";

    /// <summary>
    /// Which kept tree an image with <paramref name="diffIds"/> starts from (the one holding the longest run of its
    /// leading layers; null when none does), and which kept trees go: every other one, so only one tree is ever kept.
    /// </summary>
    public static (KeptTreeUse? Reuse, IReadOnlyList<string> Dropped) ChooseKeptTree(IReadOnlyList<string> diffIds, IReadOnlyCollection<string> keptChainIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        ArgumentNullException.ThrowIfNull(keptChainIds);
        KeptTreeUse? reuse = null;
        if (diffIds.Count > 0 && diffIds.All(d => Oci.Model.Digest.TryParse(d, out _)))
        {
            var chains = Oci.Layers.LayerChain.ChainIds([.. diffIds.Select(Oci.Model.Digest.Parse)]);
            for (var i = chains.Count - 1; i >= 0 && reuse is null; i--)
            {
                if (keptChainIds.Contains(chains[i].Value))
                {
                    reuse = new KeptTreeUse(chains[i].Value, i + 1);
                }
            }
        }

        return (reuse, [.. keptChainIds.Where(c => c != reuse?.ChainId).Order(StringComparer.Ordinal)]);
    }

    /// <summary>The chain ID of <paramref name="diffIds"/>, or null when there are none or one is not a digest.</summary>
    public static string? ChainIdOf(IReadOnlyList<string> diffIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        return diffIds.Count > 0 && diffIds.All(d => Oci.Model.Digest.TryParse(d, out _))
            ? Oci.Layers.LayerChain.ChainId([.. diffIds.Select(Oci.Model.Digest.Parse)]).Value
            : null;
    }

    public static UpgradePlan Plan(UpgradeFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var image = facts.Image;
        var noOp = facts.ActiveDigest is not null && string.Equals(facts.ActiveDigest, image.Digest, StringComparison.Ordinal);
        var download = image.Layers.Where(l => !l.Present).DistinctBy(l => l.Digest).Sum(l => l.Size);
        var streamed = facts.StreamToImage;
        var (reuse, dropped) = streamed
            ? (null, [.. facts.KeptTrees.Select(t => t.ChainId).Order(StringComparer.Ordinal)])
            : ChooseKeptTree(image.DiffIds, [.. facts.KeptTrees.Select(t => t.ChainId)]);
        // The staged tree grows by the layers it does not hold yet; an unpacked layer is at least as large as its
        // compressed blob (a lower bound: the uncompressed size is not known before the layer is read). A streamed
        // upgrade puts that on COS_STATE instead, in the transition image.
        var unpackedAtLeast = image.Layers.Skip(reuse?.LayersReused ?? 0).DistinctBy(l => l.Digest).Sum(l => l.Size);
        var toApply = streamed ? 0 : unpackedAtLeast;
        // Trees this upgrade drops are deleted before it unpacks; the reused one moves to staging and takes no new space.
        var freed = facts.KeptTrees.Where(t => dropped.Contains(t.ChainId)).Sum(t => t.Bytes);
        var chainId = ChainIdOf(image.DiffIds);
        IReadOnlyList<ResourceCheck> checks = noOp
            ? []
            :
            [
                new ResourceCheck(MemoryCheck, "/proc/meminfo", facts.MinimumMemoryBytes, facts.AvailableMemoryBytes),
                new ResourceCheck(PersistentCheck, facts.PersistentPath, download + toApply + image.ManifestAndConfigBytes + PersistentMarginBytes, facts.PersistentAvailableBytes + freed),
                .. streamed ? [new ResourceCheck(StateCheck, facts.StatePath, unpackedAtLeast + StateMarginBytes, facts.StateAvailableBytes)] : Array.Empty<ResourceCheck>(),
            ];
        IReadOnlyList<string> steps = noOp ? [] : streamed ? [.. StreamedSteps()] : [.. StepsFor(reuse, facts.KeepTree && chainId is not null)];
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
            steps)
        {
            ChainId = chainId,
            ReusedTree = noOp ? null : reuse,
            DroppedTrees = noOp ? [] : dropped,
            KeepTreeAs = noOp || !facts.KeepTree || streamed ? null : chainId,
            Streamed = !noOp && streamed,
        };
    }

    private static IEnumerable<string> StreamedSteps()
    {
        foreach (var step in UpgradeSteps)
        {
            if (step == StagedTreeSteps[0])
            {
                yield return StreamStep;
            }
            else if (!StagedTreeSteps.Contains(step))
            {
                yield return step;
            }
        }
    }

    private static IEnumerable<string> StepsFor(KeptTreeUse? reuse, bool keep)
    {
        foreach (var step in UpgradeSteps)
        {
            if (step == "unpack-to-staging" && reuse is not null)
            {
                yield return "reuse-kept-tree-as-staging";
                yield return "apply-new-layers-to-staging";
                continue;
            }

            yield return step;
        }

        if (keep)
        {
            yield return "keep-staged-tree";
        }
    }

    /// <summary>The ext4 image that holds <paramref name="tree"/> with headroom; no reserved blocks (the image is read-only).</summary>
    public static Ext4SizeEstimate TransitionSize(DirectoryTreeSize tree) => Ext4Sizing.ForTree(tree, TransitionHeadroomPercent, reservedPercent: 0);
}
