using System.Diagnostics;
using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Agent.Upgrade;
using Basalt.Disk.Assembly;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Rollback;

/// <summary>There is no passive image to roll back to.</summary>
public sealed class NothingToRollBackException : AgentException
{
    public NothingToRollBackException(string path, string reason)
        : base($"there is nothing to roll back to: {path} {reason}", "a rollback needs a passive image; after an upgrade the previous image is there")
    {
    }

    public override string Kind => "nothing-to-roll-back";
}

/// <summary>What a rollback did; the slots are the new arrangement.</summary>
public sealed record RollbackResult(RecoveryResult Recovery, JournalSlot? Active, JournalSlot? Passive, TimeSpan Elapsed);

/// <summary>
/// <c>basalt rollback</c>: the passive image becomes active for good. A copy of passive (sparse, flushed, relabelled
/// COS_ACTIVE) is prepared as <c>transition.img</c>, then swapped in under the step journal exactly like an upgrade:
/// the old active becomes passive (COS_PASSIVE), boot counters are cleared, slots and history recorded. The copy costs
/// space on COS_STATE, and buys what a rename of two files cannot: at no instant does a slot carry the wrong label.
/// </summary>
public sealed class RollbackService
{
    /// <summary>Room beside the copy for the slots file and the journal's neighbours.</summary>
    public const long StateMarginBytes = 16 * Disk.ByteSize.MiB;

    private readonly NodePaths _paths;
    private readonly IToolRunner _runner;
    private readonly ISlotRecords _slots;
    private readonly INodeProbe _probe;
    private readonly TimeProvider _clock;
    private readonly SwapExecutor _executor;

    public RollbackService(
        NodePaths paths,
        IToolRunner runner,
        ISlotRecords slots,
        ILifecycleHistory history,
        INodeProbe? probe = null,
        TimeProvider? clock = null,
        SwapHooks? hooks = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(history);
        _paths = paths;
        _runner = runner;
        _slots = slots;
        _probe = probe ?? new HostNodeProbe();
        _clock = clock ?? TimeProvider.System;
        _executor = new SwapExecutor(paths, new SlotImageFiles(runner), slots, history, hooks, logger ?? NullLogger.Instance);
    }

    public Task<RecoveryResult> RecoverAsync(CancellationToken cancellationToken = default) => _executor.RecoverAsync(cancellationToken);

    public async Task<RollbackResult> RollbackAsync(CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        var recovery = await _executor.RecoverAsync(cancellationToken).ConfigureAwait(false);
        Preflight();

        var active = _slots.ReadActive();
        var passive = _slots.ReadPassive();
        var journal = new SwapJournal
        {
            Operation = LifecycleOperations.Rollback,
            Step = SwapStep.Preparing,
            StartedAt = _clock.GetUtcNow(),
            NewActive = passive,
            NewPassive = active,
            FromDigest = active?.Digest,
        };

        try
        {
            journal = _executor.Enter(journal, SwapStep.Preparing);
            var inode = await CopyPassiveAsync(cancellationToken).ConfigureAwait(false);
            _executor.Leave(SwapStep.Preparing);
            journal = journal with { TransitionInode = inode };
        }
        catch (Exception e) when (!_executor.Hooks.IsPowerCut(e))
        {
            await _executor.UndoPreparationAsync(journal, LifecycleOperations.Failed, e.Message, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        await _executor.CompleteAsync(journal, cancellationToken).ConfigureAwait(false);
        return new RollbackResult(recovery, passive, active, stopwatch.Elapsed);
    }

    private void Preflight()
    {
        if (!File.Exists(_paths.PassiveImage))
        {
            throw new NothingToRollBackException(_paths.PassiveImage, "does not exist");
        }

        if (SlotImageFiles.ReadLabel(_paths.PassiveImage) != SlotLabels.Passive)
        {
            throw new NothingToRollBackException(_paths.PassiveImage, $"is not an ext4 image labelled {SlotLabels.Passive}");
        }

        if (!SlotImageFiles.HasLabel(_paths.ActiveImage, SlotLabels.Active))
        {
            throw new SlotImageInvalidException(_paths.ActiveImage, $"it is missing or not an ext4 image labelled {SlotLabels.Active}");
        }

        if (_runner.Locate(SlotImageFiles.Tune2fs) is null)
        {
            throw new ToolNotFoundException(SlotImageFiles.Tune2fs, SlotImageFiles.Package);
        }

        var needed = Posix.GetStatus(_paths.PassiveImage).AllocatedBytes + StateMarginBytes;
        var available = _probe.GetSpace(_paths.StateMount).AvailableBytes;
        if (available < needed)
        {
            throw new NotEnoughSpaceException("COS_STATE", _paths.StateMount, needed, available, "the copy of the passive image");
        }
    }

    /// <summary>passive.img copied (holes kept) to a temporary sibling, relabelled COS_ACTIVE, flushed, renamed to transition.img.</summary>
    private async Task<ulong> CopyPassiveAsync(CancellationToken cancellationToken)
    {
        _executor.RemoveTransitionLeftovers();
        var temporary = AtomicFile.TemporarySibling(_paths.TransitionImage);
        try
        {
            SparseCopy.CopyFile(_paths.PassiveImage, temporary, cancellationToken);
            await new SlotImageFiles(_runner).RelabelAsync(temporary, SlotLabels.Active, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, _paths.TransitionImage);
            Posix.SyncParent(_paths.TransitionImage);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        return Posix.GetStatus(_paths.TransitionImage).Inode;
    }
}
