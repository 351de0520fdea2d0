using System.Diagnostics;
using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Agent.Upgrade;
using Basalt.Disk;
using Basalt.Disk.Layout;
using Basalt.Disk.FileSystems;
using Basalt.Oci;
using Basalt.Oci.Images;
using Basalt.Oci.Manifests;
using Basalt.Oci.References;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Recovery;

/// <summary>What <c>basalt upgrade --recovery</c> is about to do, known before anything is written.</summary>
public sealed record RecoveryUpgradePlan(string Source, string ImageName, string Digest, DateTimeOffset? BuildDate, string? RecoveryDigest)
{
    /// <summary>The recovery image already is this image: nothing to do.</summary>
    public bool NoOp => RecoveryDigest == Digest;

    public string Summary => NoOp
        ? $"recovery already runs {ImageName} ({Digest})"
        : $"recovery: {RecoveryDigest ?? "(digest not recorded)"} -> {ImageName} ({Digest})";
}

/// <summary>What an upgrade of the recovery image did.</summary>
public sealed record RecoveryUpgradeResult(RecoveryUpgradePlan Plan, bool Changed, long BytesTransferred, long ImageBytes, TimeSpan Elapsed)
{
    /// <summary>Blobs removed from the node's store afterwards: those of images no slot holds any more.</summary>
    public int BlobsRemoved { get; init; }

    /// <summary>Bytes those blobs took on COS_PERSISTENT.</summary>
    public long BlobBytesFreed { get; init; }
}

/// <summary>
/// <c>basalt upgrade --recovery</c>: the recovery image (COS_RECOVERY <c>/cOS/recovery.squashfs</c>) is replaced by
/// the source. The image is unpacked and squashed on COS_PERSISTENT, where the blob store is; only when the whole
/// squashfs exists, and COS_RECOVERY has room for it beside the old one, is it copied there and renamed over the
/// old file, so at every instant the partition holds one whole recovery image. The recovery slot's record (image,
/// digest, build date) is written afterwards; the same digest is a no-op that writes nothing. Then the node's blob
/// store keeps only the images the slots hold (<see cref="SlotBlobRetention"/>), as after an upgrade of active: the
/// image recovery held before goes, unless active or passive still runs it.
/// </summary>
public sealed class RecoveryUpgradeService
{
    /// <summary>Room kept free on COS_RECOVERY beyond the new image (directory blocks, the journal).</summary>
    public const long HeadroomBytes = 4L << 20;

    /// <summary>How a recovery image squashed on the node is compressed (GRUB reads gzip, lzo and xz).</summary>
    public const SquashfsCompression RecoveryCompression = SquashfsCompression.Gzip;

    private readonly NodePaths _paths;
    private readonly ImageService _images;
    private readonly IToolRunner _runner;
    private readonly SlotStore _slots;
    private readonly ILifecycleHistory _history;
    private readonly Func<string, FileSystemSpace> _space;
    private readonly TimeProvider _clock;
    private readonly IJournalCheckpoint _checkpoint;
    private readonly ILogger _logger;

    /// <param name="paths">The node; <see cref="NodePaths.RecoveryMount"/> must be where COS_RECOVERY is reachable read-write (<see cref="RecoveryPartitionAccess"/>).</param>
    public RecoveryUpgradeService(NodePaths paths, ImageService images, IToolRunner runner, SlotStore slots, ILifecycleHistory history, Func<string, FileSystemSpace>? space = null, TimeProvider? clock = null, IJournalCheckpoint? checkpoint = null, ILogger? logger = null)
    {
        _paths = paths ?? throw new ArgumentNullException(nameof(paths));
        _images = images ?? throw new ArgumentNullException(nameof(images));
        _runner = runner ?? throw new ArgumentNullException(nameof(runner));
        _slots = slots ?? throw new ArgumentNullException(nameof(slots));
        _history = history ?? throw new ArgumentNullException(nameof(history));
        _space = space ?? Posix.GetSpace;
        _clock = clock ?? TimeProvider.System;
        _checkpoint = checkpoint ?? new JournalCheckpoint();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Where the image is unpacked and squashed, on COS_PERSISTENT.</summary>
    public string StagingDirectory => Path.Combine(_paths.AgentDirectory, "staging-recovery");

    /// <summary>Reads the source's manifest only; writes nothing.</summary>
    public async Task<RecoveryUpgradePlan> PlanAsync(string source, PlatformSpec? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        var image = await UpgradeService.ResolveAsync(_images, source, platform, cancellationToken).ConfigureAwait(false);

        var recorded = File.Exists(_slots.Path) ? (await _slots.ReadAsync(cancellationToken).ConfigureAwait(false)).Recovery : null;
        return new RecoveryUpgradePlan(source, image.Name, image.Digest.Value, image.Config.Created, recorded?.Digest);
    }

    public async Task<RecoveryUpgradeResult> UpgradeAsync(string source, PlatformSpec? platform = null, IProgress<TransferUpdate>? progress = null, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        var plan = await PlanAsync(source, platform, cancellationToken).ConfigureAwait(false);
        if (plan.NoOp)
        {
            await _history.AppendAsync(
                new LifecycleRecord(LifecycleOperations.RecoveryUpgrade, _clock.GetUtcNow(), LifecycleOperations.NoOp, SlotNames.Recovery, plan.ImageName, plan.RecoveryDigest, plan.Digest, "the image is already the recovery image"),
                cancellationToken).ConfigureAwait(false);
            return new RecoveryUpgradeResult(plan, false, 0, 0, stopwatch.Elapsed);
        }

        if (_runner.Locate(SquashfsImageBuilder.Tool) is null)
        {
            throw new ToolNotFoundException(SquashfsImageBuilder.Tool, SquashfsImageBuilder.Package);
        }

        var tree = Path.Combine(StagingDirectory, "tree");
        var squashfs = Path.Combine(StagingDirectory, "recovery.squashfs");
        try
        {
            RemoveStaging();
            Directory.CreateDirectory(StagingDirectory);
            UnpackResult unpacked;
            try
            {
                unpacked = await _images.UnpackAsync(UpgradeService.ParseSource(source), tree, platform, null, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (OciException e)
            {
                throw new UpgradeSourceUnavailableException(source, e.Message, e.Hint, e);
            }

            if (unpacked.Pull.Image.Digest.Value != plan.Digest)
            {
                throw new UpgradeSourceUnavailableException(source, $"it changed while it was fetched (planned {plan.Digest}, fetched {unpacked.Pull.Image.Digest})", "run the upgrade again, or name the image by digest (REPO@sha256:…)");
            }

            // GRUB's squash4 module reads the kernel and initrd straight out of the recovery image: gzip, lzo or xz. This
            // runs on the node, beside its workloads: gzip squashes about twice as fast as xz for a fifth more bytes.
            await new SquashfsImageBuilder(_runner).BuildAsync(squashfs, new SquashfsImageSpec(tree) { Compression = RecoveryCompression }, cancellationToken).ConfigureAwait(false);
            var imageBytes = new FileInfo(squashfs).Length;
            var cos = Path.GetDirectoryName(_paths.RecoverySquashfs)!;
            Directory.CreateDirectory(cos);
            var available = _space(cos).AvailableBytes;
            if (available < imageBytes + HeadroomBytes)
            {
                throw new NotEnoughSpaceException(KairosLayout.RecoveryLabel, cos, imageBytes + HeadroomBytes, available, "the new recovery image (beside the old one until it replaces it)");
            }

            await AtomicFile.WriteAsync(_paths.RecoverySquashfs, async (target, ct) =>
            {
                await using var input = File.OpenRead(squashfs);
                await input.CopyToAsync(target, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            if (File.Exists(_paths.RecoveryImage))
            {
                // A node installed with an ext4 recovery image: the squashfs now wins, the old image would only mislead.
                File.Delete(_paths.RecoveryImage);
                Posix.SyncParent(_paths.RecoveryImage);
            }

            // GRUB loop-mounts the recovery image without replaying COS_RECOVERY's journal: the name must reach the
            // disk itself before the old image's freed blocks can be reused.
            _checkpoint.Checkpoint(cos);

            var now = _clock.GetUtcNow();
            SlotTable? slots = null;
            if (File.Exists(_slots.Path))
            {
                var table = await _slots.ReadAsync(cancellationToken).ConfigureAwait(false);
                slots = table.With(new SlotInfo(SlotNames.Recovery, plan.ImageName, plan.Digest, plan.BuildDate, now));
                await _slots.WriteAsync(slots, cancellationToken).ConfigureAwait(false);
            }

            await _history.AppendAsync(
                new LifecycleRecord(LifecycleOperations.RecoveryUpgrade, now, LifecycleOperations.Succeeded, SlotNames.Recovery, plan.ImageName, plan.RecoveryDigest, plan.Digest),
                cancellationToken).ConfigureAwait(false);
            var trimmed = SlotBlobRetention.TrimAfterUpgrade(_images.Store, slots?.Active?.Digest, slots?.Passive?.Digest, slots?.Recovery?.Digest, _logger);
            return new RecoveryUpgradeResult(plan, true, unpacked.Pull.BytesTransferred, imageBytes, stopwatch.Elapsed)
            {
                BlobsRemoved = trimmed.RemovedBlobs.Count,
                BlobBytesFreed = trimmed.BytesFreed,
            };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await _history.AppendAsync(
                new LifecycleRecord(LifecycleOperations.RecoveryUpgrade, _clock.GetUtcNow(), LifecycleOperations.Failed, SlotNames.Recovery, plan.ImageName, plan.RecoveryDigest, plan.Digest, e.Message),
                CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        finally
        {
            RemoveStaging();
        }
    }

    private void RemoveStaging()
    {
        if (Directory.Exists(StagingDirectory))
        {
            Directory.Delete(StagingDirectory, recursive: true);
        }
    }
}
