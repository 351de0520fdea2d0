using System.Diagnostics;
using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Boot.Grub;
using Basalt.Disk;
using Basalt.Disk.FileSystems;
using Basalt.Disk.FileSystems.Ext4;
using Basalt.Oci;
using Basalt.Oci.Images;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Store;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Upgrade;

/// <summary>What to upgrade to.</summary>
/// <param name="Source">oci:REF, dir:PATH, file:PATH, ocifile:TAR, oci-layout:DIR[:TAG].</param>
/// <param name="BootTries">Boots the new image gets before the node falls back (1..9).</param>
public sealed record UpgradeRequest(string Source, int BootTries = BootAssessment.DefaultTries)
{
    public PlatformSpec? Platform { get; init; }
}

/// <summary>What an upgrade did.</summary>
public sealed record UpgradeResult(
    UpgradePlan Plan,
    RecoveryResult Recovery,
    bool Changed,
    long BytesTransferred,
    int BlobsTransferred,
    int BlobsSkipped,
    TimeSpan Elapsed)
{
    /// <summary>Where the time went, phase by phase, in order (see <see cref="UpgradePhases"/>).</summary>
    public IReadOnlyList<UpgradePhaseTime> Phases { get; init; } = [];

    /// <summary>Layers the staging took from the kept tree instead of unpacking them.</summary>
    public int LayersReused { get; init; }

    /// <summary>Blobs removed from the node's store after the upgrade: those of images no slot holds any more.</summary>
    public int BlobsRemoved { get; init; }

    /// <summary>Bytes those blobs took on COS_PERSISTENT.</summary>
    public long BlobBytesFreed { get; init; }
}

/// <summary>How long one phase of an upgrade took.</summary>
public sealed record UpgradePhaseTime(string Phase, TimeSpan Elapsed);

/// <summary>The phases <see cref="UpgradeResult.Phases"/> names.</summary>
public static class UpgradePhases
{
    public const string Recover = "recover";
    public const string Plan = "plan";
    public const string Stage = "fetch-and-unpack";

    /// <summary>A streamed upgrade's staging: the missing blobs fetched, nothing unpacked (its build-image phase reads the layers).</summary>
    public const string Fetch = "fetch";
    public const string Measure = "measure";
    public const string Build = "build-image";
    public const string Swap = "swap";
    public const string Staging = "keep-or-remove-staging";
    public const string TrimBlobs = "trim-blob-store";
}

/// <summary>Settings of the upgrade service that are not per request.</summary>
public sealed record UpgradeServiceOptions
{
    public long MinimumMemoryBytes { get; init; } = UpgradePlanner.DefaultMinimumMemoryBytes;

    /// <summary>
    /// Keep the staged tree on COS_PERSISTENT after the upgrade, under the chain ID of its layers, so the next upgrade
    /// applies only its new layers (it costs the tree's size on COS_PERSISTENT). Not kept when an
    /// <c>after-upgrade-chroot</c> stage has steps, since they change the tree beyond its layers.
    /// </summary>
    public bool KeepUnpackedTree { get; init; } = true;

    /// <summary>
    /// Write the layers straight into the transition image as they are read (<see cref="Ext4ImageWriter"/>): no staged
    /// tree on COS_PERSISTENT, each layer decompressed once, no <c>mkfs.ext4 -d</c> pass over a tree. Not done when an
    /// <c>after-upgrade-chroot</c> stage has steps, since they need a tree to run in.
    /// </summary>
    public bool StreamLayersIntoImage { get; init; } = true;
}

/// <summary>
/// <c>basalt upgrade</c>: recover anything interrupted, plan (source, digest, no-op, memory, space), fetch only the
/// missing layers into the node's blob store, stream the layers straight into <c>transition.img</c> (ext4, COS_ACTIVE;
/// written by <see cref="Ext4ImageWriter"/>, bounded by COS_STATE's free space) or, when an
/// <c>after-upgrade-chroot</c> stage needs a tree, unpack a staging tree on COS_PERSISTENT, measure it, check COS_STATE
/// and build the image from it with mkfs.ext4; then swap it in under the step journal
/// (<see cref="SwapExecutor"/>): the old active becomes passive, boot counting is armed, slots and history recorded.
/// </summary>
public sealed class UpgradeService
{
    private readonly NodePaths _paths;
    private readonly ImageService _images;
    private readonly IToolRunner _runner;
    private readonly ISlotRecords _slots;
    private readonly ILifecycleHistory _history;
    private readonly INodeProbe _probe;
    private readonly UpgradeServiceOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly SwapExecutor _executor;
    private readonly LifecycleStages? _stages;

    public UpgradeService(
        NodePaths paths,
        ImageService images,
        IToolRunner runner,
        ISlotRecords slots,
        ILifecycleHistory history,
        INodeProbe? probe = null,
        UpgradeServiceOptions? options = null,
        TimeProvider? clock = null,
        SwapHooks? hooks = null,
        ILogger? logger = null,
        LifecycleStages? stages = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(history);
        _paths = paths;
        _images = images;
        _runner = runner;
        _slots = slots;
        _history = history;
        _probe = probe ?? new HostNodeProbe();
        _options = options ?? new UpgradeServiceOptions();
        _clock = clock ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _executor = new SwapExecutor(paths, new SlotImageFiles(runner), slots, history, hooks, _logger);
        _stages = stages;
    }

    /// <summary>Where a staged upgrade unpacks the new tree (COS_PERSISTENT, never RAM); a streamed one keeps only the image's menu here.</summary>
    public string StagingDirectory => Path.Combine(_paths.AgentDirectory, "staging");

    /// <summary>The tree kept from the last upgrade, by chain ID.</summary>
    public KeptTreeStore KeptTrees => new(_paths.TreeCacheDirectory);

    /// <summary>Whether this service keeps the staged tree: the option, and no chroot stage that changes the tree.</summary>
    private bool KeepsTree => _options.KeepUnpackedTree
        && (_stages is null || LifecycleStages.CountSteps(_stages.Sources, "after-upgrade-chroot") == 0);

    /// <summary>Whether this service streams the layers into the image: the option, and no chroot stage that needs a tree.</summary>
    private bool StreamsImage => _options.StreamLayersIntoImage
        && (_stages is null || LifecycleStages.CountSteps(_stages.Sources, "after-upgrade-chroot") == 0);

    /// <summary>Finishes or undoes an interrupted upgrade or rollback (see <see cref="SwapExecutor.RecoverAsync"/>).</summary>
    public Task<RecoveryResult> RecoverAsync(CancellationToken cancellationToken = default) => _executor.RecoverAsync(cancellationToken);

    /// <summary>The preflight as data. Reads the source's manifest and config only; writes nothing on the node's partitions.</summary>
    public async Task<UpgradePlan> PlanAsync(UpgradeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.BootTries is < 1 or > BootAssessment.MaxTries)
        {
            throw new InvalidBootTriesException(request.BootTries, BootAssessment.MaxTries);
        }

        var image = await ResolveAsync(_images, request.Source, request.Platform, cancellationToken).ConfigureAwait(false);

        var store = _images.Store;
        var resolved = new ResolvedUpgradeImage(
            image.Name,
            image.Digest.Value,
            image.Config.Created,
            image.ManifestSize + image.Manifest.Config.Size,
            [.. image.Layers.Select(l => new PlannedLayer(l.Digest.Value, l.Size, store.Contains(l.Digest)))])
        {
            DiffIds = [.. image.Config.RootFs.DiffIds.Select(d => d.Value)],
        };
        var kept = KeptTrees;
        var keptChains = kept.List();
        var streams = StreamsImage;
        // Only the trees this upgrade would drop are measured (their space is freed before the unpack); the reused one is not walked.
        var dropped = streams ? keptChains : UpgradePlanner.ChooseKeptTree(resolved.DiffIds, keptChains).Dropped;
        var persistent = ExistingAncestor(_paths.PersistentMount);
        var state = ExistingAncestor(_paths.StateMount);
        var facts = new UpgradeFacts(
            request.Source,
            resolved,
            _slots.ReadActive()?.Digest,
            request.BootTries,
            _probe.AvailableMemoryBytes(),
            _options.MinimumMemoryBytes,
            persistent,
            _probe.GetSpace(persistent).AvailableBytes)
        {
            KeptTrees = [.. keptChains.Select(c => new KeptTree(c, dropped.Contains(c) ? kept.MeasureBytes(c) : 0))],
            KeepTree = KeepsTree,
            StreamToImage = streams,
            StatePath = state,
            StateAvailableBytes = streams ? _probe.GetSpace(state).AvailableBytes : 0,
        };
        return UpgradePlanner.Plan(facts);
    }

    public async Task<UpgradeResult> UpgradeAsync(UpgradeRequest request, IProgress<TransferUpdate>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var stopwatch = Stopwatch.StartNew();
        var phases = new PhaseClock();
        var recovery = await _executor.RecoverAsync(cancellationToken).ConfigureAwait(false);
        phases.End(UpgradePhases.Recover);
        RequireActiveImage();
        var plan = await PlanAsync(request, cancellationToken).ConfigureAwait(false);
        phases.End(UpgradePhases.Plan);
        if (plan.NoOp)
        {
            await _history.AppendAsync(
                new LifecycleRecord(LifecycleOperations.Upgrade, _clock.GetUtcNow(), LifecycleOperations.NoOp, "active", plan.ImageName, plan.ActiveDigest, plan.Digest, "the image is already active"),
                cancellationToken).ConfigureAwait(false);
            return new UpgradeResult(plan, recovery, false, 0, 0, plan.Layers.Count, stopwatch.Elapsed) { Phases = phases.Phases };
        }

        plan.EnsureAllowed();
        if (_runner.Locate(SlotImageFiles.Tune2fs) is null)
        {
            throw new ToolNotFoundException(SlotImageFiles.Tune2fs, SlotImageFiles.Package);
        }

        if (!plan.Streamed && _runner.Locate(Ext4ImageBuilder.Tool) is null)
        {
            throw new ToolNotFoundException(Ext4ImageBuilder.Tool, Ext4ImageBuilder.Package);
        }

        var now = _clock.GetUtcNow();
        var journal = new SwapJournal
        {
            Operation = LifecycleOperations.Upgrade,
            Step = SwapStep.Staging,
            StartedAt = now,
            NewActive = new JournalSlot(plan.ImageName, plan.Digest, plan.BuildDate, now),
            NewPassive = _slots.ReadActive(),
            FromDigest = plan.ActiveDigest,
            BootTries = request.BootTries,
            StagingDirectory = StagingDirectory,
            KeepTreeAs = plan.KeepTreeAs,
        };

        await RunStageAsync("before-upgrade", _paths.SystemRoot, cancellationToken).ConfigureAwait(false);
        PullResult pull;
        var layersReused = 0;
        try
        {
            journal = _executor.Enter(journal, SwapStep.Staging);
            phases.Restart();
            if (plan.Streamed)
            {
                pull = await FetchAsync(request, plan, progress, cancellationToken).ConfigureAwait(false);
                phases.End(UpgradePhases.Fetch);
                _executor.Leave(SwapStep.Staging);

                journal = _executor.Enter(journal, SwapStep.Preparing);
                var (inode, imageBytes) = await StreamTransitionAsync(pull.Image, progress, cancellationToken).ConfigureAwait(false);
                _executor.Leave(SwapStep.Preparing);
                phases.End(UpgradePhases.Build);
                plan = plan with { TransitionBytes = imageBytes };
                journal = journal with { TransitionInode = inode };
            }
            else
            {
                var unpacked = await StageAsync(request, plan, progress, cancellationToken).ConfigureAwait(false);
                pull = unpacked.Pull;
                layersReused = unpacked.LayersReused;
                phases.End(UpgradePhases.Stage);
                _executor.Leave(SwapStep.Staging);

                // Changes made here are part of the new image: it is measured and built after the stage.
                await RunStageAsync("after-upgrade-chroot", StagingDirectory, cancellationToken).ConfigureAwait(false);

                phases.Restart();
                var tree = DirectoryTree.Measure(StagingDirectory);
                plan = plan.WithStateCheck(tree, _paths.StateMount, _probe.GetSpace(_paths.StateMount).AvailableBytes);
                plan.EnsureAllowed();
                phases.End(UpgradePhases.Measure);

                journal = _executor.Enter(journal, SwapStep.Preparing);
                var inode = await BuildTransitionAsync(tree, cancellationToken).ConfigureAwait(false);
                _executor.Leave(SwapStep.Preparing);
                phases.End(UpgradePhases.Build);
                journal = journal with { TransitionInode = inode };
            }
        }
        catch (Exception e) when (!_executor.Hooks.IsPowerCut(e))
        {
            _logger.LogError("the upgrade failed before the new image was in place: {Message}", e.Message);
            await _executor.UndoPreparationAsync(journal, LifecycleOperations.Failed, e.Message, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        var completion = await _executor.CompleteAsync(journal, cancellationToken).ConfigureAwait(false);
        phases.Add(UpgradePhases.Swap, completion.Steps);
        phases.Add(UpgradePhases.Staging, completion.Staging);
        phases.Restart();
        var trimmed = SlotBlobRetention.TrimAfterUpgrade(_images.Store, _slots.ReadActive()?.Digest, _slots.ReadPassive()?.Digest, _slots.ReadRecovery()?.Digest, _logger);
        phases.End(UpgradePhases.TrimBlobs);
        await RunStageAsync("after-upgrade", _paths.SystemRoot, cancellationToken).ConfigureAwait(false);
        return new UpgradeResult(plan, recovery, true, pull.BytesTransferred, pull.BlobsTransferred, pull.BlobsSkipped, stopwatch.Elapsed)
        {
            Phases = phases.Phases,
            LayersReused = layersReused,
            BlobsRemoved = trimmed.RemovedBlobs.Count,
            BlobBytesFreed = trimmed.BytesFreed,
        };
    }

    /// <summary>Times consecutive phases: each <see cref="End"/> records the time since the last one (or <see cref="Restart"/>).</summary>
    private sealed class PhaseClock
    {
        private readonly List<UpgradePhaseTime> _phases = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public IReadOnlyList<UpgradePhaseTime> Phases => _phases;

        public void Restart() => _clock.Restart();

        public void End(string phase)
        {
            _phases.Add(new UpgradePhaseTime(phase, _clock.Elapsed));
            _clock.Restart();
        }

        public void Add(string phase, TimeSpan elapsed) => _phases.Add(new UpgradePhaseTime(phase, elapsed));
    }

    private async Task RunStageAsync(string stage, string root, CancellationToken cancellationToken)
    {
        if (_stages is not null)
        {
            await _stages.RunAsync(stage, root, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<UnpackResult> StageAsync(UpgradeRequest request, UpgradePlan plan, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        ResetStaging();
        var kept = KeptTrees;
        UnpackResult unpacked;
        try
        {
            if (plan.ReusedTree is { } reuse && kept.List().Contains(reuse.ChainId))
            {
                // From here on the kept tree is this upgrade's working copy: recovery removes it if the upgrade stops.
                kept.TakeInto(reuse.ChainId, StagingDirectory);
                kept.DropAll();
                unpacked = await _images.UnpackOntoAsync(ParseSource(request.Source), StagingDirectory, Digest.Parse(reuse.ChainId), request.Platform, null, progress, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Trees of other chains go first, so their space is there for the new tree.
                kept.DropAll();
                unpacked = await _images.UnpackAsync(ParseSource(request.Source), StagingDirectory, request.Platform, null, progress, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OciException e)
        {
            throw new UpgradeSourceUnavailableException(request.Source, e.Message, e.Hint, e);
        }

        EnsurePlannedDigest(request, plan, unpacked.Pull);
        return unpacked;
    }

    /// <summary>The streamed upgrade's staging: only the missing blobs are fetched into the store; kept trees and any staging leftover go.</summary>
    private async Task<PullResult> FetchAsync(UpgradeRequest request, UpgradePlan plan, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        ResetStaging();
        KeptTrees.DropAll();
        PullResult pull;
        try
        {
            pull = await _images.PullAsync(ParseSource(request.Source), request.Platform, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (OciException e)
        {
            throw new UpgradeSourceUnavailableException(request.Source, e.Message, e.Hint, e);
        }

        EnsurePlannedDigest(request, plan, pull);
        return pull;
    }

    /// <summary>
    /// Writes <c>transition.img</c> from the image's layers as they are read (temporary sibling, flushed, renamed), and
    /// the image's GRUB menu beside it in the staging directory, where the swap's menu step reads it. The image may take
    /// what COS_STATE has free less the margin; more is <see cref="NotEnoughSpaceException"/>.
    /// </summary>
    private async Task<(ulong Inode, long ImageBytes)> StreamTransitionAsync(ResolvedImage image, IProgress<TransferUpdate>? progress, CancellationToken cancellationToken)
    {
        _executor.RemoveTransitionLeftovers();
        Directory.CreateDirectory(Path.GetDirectoryName(_paths.TransitionImage)!);
        var available = _probe.GetSpace(_paths.StateMount).AvailableBytes;
        var options = new Ext4ImageWriterOptions(SlotLabels.Active, Guid.NewGuid())
        {
            MaxImageBytes = Math.Max(available - UpgradePlanner.StateMarginBytes, ByteSize.MiB),
            FreeSpacePercent = UpgradePlanner.TransitionHeadroomPercent,
        };

        async Task FillAsync(Ext4ImageWriter writer, CancellationToken token)
        {
            await _images.StreamAsync(image, new Ext4LayerTarget(writer), progress, token).ConfigureAwait(false);
            if (writer.ReadFile(GrubPaths.ImageMenuConfig) is { } menu)
            {
                var staged = Path.Combine(StagingDirectory, GrubPaths.ImageMenuConfig.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(staged)!);
                AtomicFile.WriteAllBytes(staged, menu);
            }
        }

        Ext4ImageSummary? summary = null;
        async Task BuildAsync(CancellationToken token) =>
            summary = await Ext4ImageWriter.BuildAtomicallyAsync(_paths.TransitionImage, options, FillAsync, token).ConfigureAwait(false);
        try
        {
            if (_executor.Hooks.WhilePreparing is not { } watch)
            {
                await BuildAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // The content's size is known only as it is read; the compressed layers are a lower bound.
                await BuildWatchedAsync(BuildAsync, watch, image.Layers.Sum(l => l.Size), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Ext4ImageFullException e)
        {
            throw new NotEnoughSpaceException("COS_STATE", _paths.StateMount, e.NeededBytes + UpgradePlanner.StateMarginBytes, available, "the transition image");
        }

        return (Posix.GetStatus(_paths.TransitionImage).Inode, summary!.ImageBytes);
    }

    /// <summary>What an interrupted upgrade left in the staging directory goes; the agent's directory is there.</summary>
    private void ResetStaging()
    {
        if (Directory.Exists(StagingDirectory))
        {
            Directory.Delete(StagingDirectory, recursive: true);
        }

        Directory.CreateDirectory(_paths.AgentDirectory);
    }

    private static void EnsurePlannedDigest(UpgradeRequest request, UpgradePlan plan, PullResult pull)
    {
        if (pull.Image.Digest.Value != plan.Digest)
        {
            throw new UpgradeSourceUnavailableException(
                request.Source,
                $"it changed while it was fetched (planned {plan.Digest}, fetched {pull.Image.Digest})",
                "run the upgrade again, or name the image by digest (REPO@sha256:…)");
        }
    }

    private async Task<ulong> BuildTransitionAsync(DirectoryTreeSize tree, CancellationToken cancellationToken)
    {
        var executor = _executor;
        executor.RemoveTransitionLeftovers();
        var size = UpgradePlanner.TransitionSize(tree);
        var spec = new Ext4ImageSpec(SlotLabels.Active, Guid.NewGuid(), size.ImageBytes)
        {
            SourceDirectory = StagingDirectory,
            InodeCount = size.InodeCount,
            ReservedPercent = 0,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(_paths.TransitionImage)!);
        // Built beside the target, flushed, renamed into place and the directory flushed: transition.img is whole or absent.
        var build = new Ext4ImageBuilder(_runner);
        if (executor.Hooks.WhilePreparing is not { } watch)
        {
            await build.BuildAsync(_paths.TransitionImage, spec, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await BuildWatchedAsync(token => build.BuildAsync(_paths.TransitionImage, spec, token), watch, tree.BlockBytes, cancellationToken).ConfigureAwait(false);
        }

        return Posix.GetStatus(_paths.TransitionImage).Inode;
    }

    /// <summary>
    /// Builds while a watcher reports the bytes allocated to the image's temporary file to <paramref name="watch"/>. An
    /// exception from the watch (a simulated cut) stops the build and propagates; on a real node the watch never returns.
    /// </summary>
    private async Task BuildWatchedAsync(Func<CancellationToken, Task> build, Action<PreparationProgress> watch, long expectedBytes, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var building = build(stop.Token);
        var watching = Task.Run(
            async () =>
            {
                // At least one report, however fast the build.
                do
                {
                    watch(new PreparationProgress(TransitionBytesWritten(), expectedBytes));
                    await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None).ConfigureAwait(false);
                }
                while (!building.IsCompleted);
            },
            CancellationToken.None);
        var first = await Task.WhenAny(building, watching).ConfigureAwait(false);
        if (first == watching && watching.IsFaulted)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await building.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or BasaltException)
            {
                // The build was stopped by the cut; what it left is for recovery.
                _logger.LogDebug("the image build stopped at the injected cut: {Message}", e.Message);
            }

            await watching.ConfigureAwait(false);
        }

        await building.ConfigureAwait(false);
        await watching.ConfigureAwait(false);
    }

    /// <summary>Bytes allocated to the temporary files transition.img is being built in.</summary>
    private long TransitionBytesWritten()
    {
        var directory = Path.GetDirectoryName(_paths.TransitionImage)!;
        var pattern = $".{Path.GetFileName(_paths.TransitionImage)}.tmp-*";
        return Directory.EnumerateFiles(directory, pattern).Sum(file => Posix.TryGetStatus(file, out var status) ? status.AllocatedBytes : 0);
    }

    private void RequireActiveImage()
    {
        if (!File.Exists(_paths.ActiveImage))
        {
            throw new SlotImageInvalidException(_paths.ActiveImage, "it does not exist");
        }

        if (SlotImageFiles.ReadLabel(_paths.ActiveImage) != SlotLabels.Active)
        {
            throw new SlotImageInvalidException(_paths.ActiveImage, $"it is not an ext4 image labelled {SlotLabels.Active}");
        }
    }

    /// <summary>The source's manifest and config; a bad or unreachable source is an <see cref="UpgradeSourceUnavailableException"/>.</summary>
    internal static async Task<ResolvedImage> ResolveAsync(ImageService images, string source, PlatformSpec? platform, CancellationToken cancellationToken)
    {
        try
        {
            return await images.InspectAsync(ParseSource(source), platform, cancellationToken).ConfigureAwait(false);
        }
        catch (OciException e)
        {
            throw new UpgradeSourceUnavailableException(source, e.Message, e.Hint, e);
        }
        catch (HttpRequestException e)
        {
            throw new UpgradeSourceUnavailableException(source, e.Message, null, e);
        }
    }

    internal static ImageSource ParseSource(string text)
    {
        try
        {
            return ImageSource.Parse(text);
        }
        catch (OciException e)
        {
            throw new UpgradeSourceUnavailableException(text, e.Message, e.Hint ?? "sources are " + ImageSource.AcceptedForms, e);
        }
    }

    /// <summary>The path itself, or its nearest existing parent (free space is a property of the filesystem).</summary>
    private static string ExistingAncestor(string path)
    {
        var current = Path.GetFullPath(path);
        while (!Directory.Exists(current) && Path.GetDirectoryName(current) is { } parent)
        {
            current = parent;
        }

        return current;
    }
}
