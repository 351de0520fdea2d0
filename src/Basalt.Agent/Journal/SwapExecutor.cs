using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Upgrade;
using Basalt.Boot.Grub;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Journal;

/// <summary>What <see cref="SwapExecutor.RecoverAsync"/> found and did.</summary>
public enum RecoveryOutcome
{
    /// <summary>No journal: nothing was interrupted.</summary>
    Nothing,

    /// <summary>The operation was interrupted before its new image was complete; what it prepared was removed.</summary>
    RolledBack,

    /// <summary>The operation was interrupted after its new image was complete; its remaining steps were carried out.</summary>
    Completed,
}

/// <summary>Who recovers, which decides what happens to an operation whose images were not yet exchanged.</summary>
public enum RecoveryMode
{
    /// <summary>
    /// A lifecycle command (the next <c>basalt upgrade</c> or <c>rollback</c>, or <c>basalt recover</c>): an operation
    /// whose new image is complete is carried out to the end; the reboot that starts it comes later, as after any upgrade.
    /// </summary>
    Command,

    /// <summary>
    /// Early in a boot (<c>basalt recover --boot</c>): the running system is the one the menu chose from the images as
    /// they were. An operation not yet exchanged is rolled back, so the system now running stays the active one and
    /// this boot's good-boot bookkeeping cannot confirm an image that never booted; one already exchanged is completed
    /// (its new image is what booted, or what the boot counting will try).
    /// </summary>
    Boot,
}

/// <summary>The result of a recovery run, for the CLI and the boot-time caller.</summary>
public sealed record RecoveryResult(RecoveryOutcome Outcome, string? Operation, SwapStep? InterruptedAt);

/// <summary>Test and fault-injection hooks around each step (a power cut is simulated by throwing).</summary>
public sealed class SwapHooks
{
    public static SwapHooks None { get; } = new();

    /// <summary>Called after the journal names <c>step</c> and before the step runs.</summary>
    public Action<SwapStep>? BeforeStep { get; init; }

    /// <summary>Called after <c>step</c> ran, before the journal names the next one.</summary>
    public Action<SwapStep>? AfterStep { get; init; }

    /// <summary>
    /// Fault injection: an exception for which this is true stands for a power cut and propagates with no clean-up at
    /// all, leaving the files as a cut would; only <see cref="SwapExecutor.RecoverAsync"/> may act on them afterwards.
    /// </summary>
    public Func<Exception, bool> IsPowerCut { get; init; } = _ => false;

    /// <summary>
    /// Called repeatedly while <c>transition.img</c> is written (from a watcher, not the writing thread), with the
    /// bytes allocated to it so far. Fault injection cuts here to test a half-written image.
    /// </summary>
    public Action<PreparationProgress>? WhilePreparing { get; init; }
}

/// <summary>What the completion of a swap did after its steps: how long its steps took, and what became of the staged tree.</summary>
/// <param name="Steps">Time spent in the steps from arming to recording history.</param>
/// <param name="Staging">Time spent keeping or deleting the staged tree.</param>
/// <param name="KeptTreeAs">The chain ID the staged tree is now kept under; null when it was deleted (or there was none).</param>
public sealed record SwapCompletion(TimeSpan Steps, TimeSpan Staging, string? KeptTreeAs);

/// <summary>How far the write of <c>transition.img</c> got: bytes allocated so far, and about how many it will take.</summary>
public sealed record PreparationProgress(long WrittenBytes, long ExpectedBytes);

/// <summary>
/// Carries out the second half of every image swap on COS_STATE, under the step journal: once a complete
/// <c>transition.img</c> (label COS_ACTIVE) exists, arm, exchange it with <c>active.img</c> in one rename, relabel the
/// old active COS_PASSIVE, rename it over <c>passive.img</c>, finish, record slots and history. At every instant
/// <c>active.img</c> and <c>passive.img</c> are whole images with their right labels. Each step is idempotent and the
/// journal is written before each, so <see cref="RecoverAsync"/> can finish an interrupted run (or, when it was
/// interrupted before its image was complete, remove what it had prepared).
/// </summary>
public sealed class SwapExecutor
{
    private readonly NodePaths _paths;
    private readonly SwapJournalStore _journal;
    private readonly SlotImageFiles _images;
    private readonly ISlotRecords _slots;
    private readonly ILifecycleHistory _history;
    private readonly SwapHooks _hooks;
    private readonly ILogger _logger;
    private readonly IJournalCheckpoint _checkpoint;

    public SwapExecutor(NodePaths paths, SlotImageFiles images, ISlotRecords slots, ILifecycleHistory history, SwapHooks? hooks = null, ILogger? logger = null, IJournalCheckpoint? checkpoint = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(history);
        _paths = paths;
        _journal = new SwapJournalStore(paths.Journal);
        _images = images;
        _slots = slots;
        _history = history;
        _hooks = hooks ?? SwapHooks.None;
        _logger = logger ?? NullLogger.Instance;
        _checkpoint = checkpoint ?? new JournalCheckpoint();
    }

    public SwapJournalStore Journal => _journal;

    public SwapHooks Hooks => _hooks;

    /// <summary>Writes the journal for <paramref name="step"/> (atomically, durably) and tells the hooks.</summary>
    public SwapJournal Enter(SwapJournal journal, SwapStep step)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var next = journal with { Step = step };
        _journal.Write(next);
        _hooks.BeforeStep?.Invoke(step);
        return next;
    }

    /// <summary>Tells the hooks <paramref name="step"/> is done.</summary>
    public void Leave(SwapStep step) => _hooks.AfterStep?.Invoke(step);

    /// <summary>
    /// Runs the steps from <see cref="SwapStep.Arming"/> on, then keeps the staged tree under the chain ID the journal
    /// names (or deletes it) and deletes the journal. <paramref name="journal"/> must name the complete
    /// <c>transition.img</c>'s inode.
    /// </summary>
    public async Task<SwapCompletion> CompleteAsync(SwapJournal journal, CancellationToken cancellationToken = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ArgumentNullException.ThrowIfNull(journal);
        if (journal.TransitionInode is null)
        {
            throw new ArgumentException("the journal names no complete transition image", nameof(journal));
        }

        var start = journal.Step < SwapStep.Arming ? SwapStep.Arming : journal.Step;
        for (var step = start; step <= SwapStep.RecordingHistory; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            journal = Enter(journal, step);
            await RunAsync(journal, step, cancellationToken).ConfigureAwait(false);

            // GRUB reads COS_STATE without replaying its journal. Before the next step can free blocks (the retired
            // passive, a replaced menu) and new files reuse them, the names GRUB follows must point, on the disk
            // itself, at what they point at now; else a power cut leaves it loop-mounting a slots file as active.img.
            _checkpoint.Checkpoint(_paths.StateMount);
            Leave(step);
        }

        var steps = clock.Elapsed;
        var kept = RetireStaging(journal);
        _journal.Delete();
        return new SwapCompletion(steps, clock.Elapsed - steps, kept);
    }

    /// <summary>
    /// Finishes or undoes an operation a power cut or crash interrupted. Called at the start of upgrade and rollback,
    /// and meant for boot (before the health gate) so a node never stays half-way.
    /// </summary>
    public Task<RecoveryResult> RecoverAsync(CancellationToken cancellationToken = default) => RecoverAsync(RecoveryMode.Command, cancellationToken);

    /// <summary>Finishes or undoes an interrupted operation the way <paramref name="mode"/> says (see <see cref="RecoveryMode"/>).</summary>
    public async Task<RecoveryResult> RecoverAsync(RecoveryMode mode, CancellationToken cancellationToken = default)
    {
        var journal = _journal.Read();
        if (journal is null)
        {
            return new RecoveryResult(RecoveryOutcome.Nothing, null, null);
        }

        _logger.LogWarning("an interrupted {Operation} was found at step {Step}; recovering", journal.Operation, journal.Step);
        var exchanged = journal.IsPastPreparation && IsExchanged(journal);
        var completable = exchanged || (journal.IsPastPreparation && mode == RecoveryMode.Command && IsTransitionReady(journal));
        if (completable)
        {
            await CompleteAsync(journal, cancellationToken).ConfigureAwait(false);
            return new RecoveryResult(RecoveryOutcome.Completed, journal.Operation, journal.Step);
        }

        var reason = !journal.IsPastPreparation ? $"interrupted at step {journal.Step}"
            : mode == RecoveryMode.Boot && IsTransitionReady(journal) ? $"interrupted at step {journal.Step}, before the exchange; undone at boot, the running system stays active"
            : "interrupted, and its transition image is gone";
        await UndoPreparationAsync(journal, LifecycleOperations.RolledBack, reason, cancellationToken).ConfigureAwait(false);
        return new RecoveryResult(RecoveryOutcome.RolledBack, journal.Operation, journal.Step);
    }

    /// <summary>
    /// Removes what the preparation made (transition image, its temporary siblings, the staging tree), undoes the arming
    /// and records the operation with <paramref name="outcome"/> (failed, rolled back). The installed images were never touched before the exchange.
    /// </summary>
    public async Task UndoPreparationAsync(SwapJournal journal, string outcome, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journal);
        RemoveTransitionLeftovers();
        RemoveStaging(journal);
        if (journal.Step >= SwapStep.Arming && File.Exists(_paths.GrubEnvironment))
        {
            var environment = GrubEnvironment.Load(_paths.GrubEnvironment);
            BootAssessment.MarkGood(environment);
            environment.SaveForBoot(_paths.GrubEnvironment, _checkpoint);
        }

        await AppendHistoryOnceAsync(journal, outcome, reason, cancellationToken).ConfigureAwait(false);
        _journal.Delete();
        _checkpoint.Checkpoint(_paths.StateMount);
    }

    /// <summary>Deletes <c>transition.img</c> and the temporary files a build of it may have left.</summary>
    public void RemoveTransitionLeftovers()
    {
        var directory = Path.GetDirectoryName(_paths.TransitionImage)!;
        if (!Directory.Exists(directory))
        {
            return;
        }

        var name = Path.GetFileName(_paths.TransitionImage);
        foreach (var leftover in Directory.EnumerateFiles(directory, $".{name}.tmp-*").Append(_paths.TransitionImage))
        {
            if (File.Exists(leftover))
            {
                File.Delete(leftover);
            }
        }

        Posix.Sync(directory);
    }

    private async Task RunAsync(SwapJournal journal, SwapStep step, CancellationToken cancellationToken)
    {
        switch (step)
        {
            case SwapStep.Arming:
                Arm(journal);
                break;
            case SwapStep.Exchanging:
                Exchange(journal);
                break;
            case SwapStep.Relabeling:
                if (File.Exists(_paths.TransitionImage) && !SlotImageFiles.HasLabel(_paths.TransitionImage, SlotLabels.Passive))
                {
                    await _images.RelabelAsync(_paths.TransitionImage, SlotLabels.Passive, cancellationToken).ConfigureAwait(false);
                }

                break;
            case SwapStep.Retiring:
                if (File.Exists(_paths.TransitionImage))
                {
                    // rename(2) replaces passive.img atomically: it is the old passive or the old active, never neither.
                    File.Move(_paths.TransitionImage, _paths.PassiveImage, overwrite: true);
                    Posix.SyncParent(_paths.PassiveImage);
                }

                break;
            case SwapStep.Finishing:
                Finish(journal);
                break;
            case SwapStep.RecordingSlots:
                await _slots.WriteAsync(journal.NewActive, journal.NewPassive, cancellationToken).ConfigureAwait(false);
                break;
            case SwapStep.RecordingHistory:
                await AppendHistoryOnceAsync(journal, LifecycleOperations.Succeeded, null, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, "not a step of the swap");
        }
    }

    private void Arm(SwapJournal journal)
    {
        if (journal.Operation != LifecycleOperations.Upgrade)
        {
            return;
        }

        var environment = File.Exists(_paths.GrubEnvironment) ? GrubEnvironment.Load(_paths.GrubEnvironment) : GrubEnvironment.Create();
        BootAssessment.Arm(environment, journal.BootTries);
        Directory.CreateDirectory(Path.GetDirectoryName(_paths.GrubEnvironment)!);
        environment.SaveForBoot(_paths.GrubEnvironment, _checkpoint);
    }

    private void Exchange(SwapJournal journal)
    {
        if (IsExchanged(journal))
        {
            return;
        }

        if (!IsTransitionReady(journal))
        {
            throw new SwapInterruptedException(journal.Operation, $"{_paths.TransitionImage} is not the image this {journal.Operation} prepared");
        }

        Posix.ExchangePaths(_paths.TransitionImage, _paths.ActiveImage);
        Posix.SyncParent(_paths.ActiveImage);
    }

    private void Finish(SwapJournal journal)
    {
        if (journal.Operation == LifecycleOperations.Upgrade)
        {
            // The state partition's menu comes from the image it boots (as Kairos does), replaced atomically.
            var menu = journal.StagingDirectory is { } staging ? Path.Combine(staging, GrubPaths.ImageMenuConfig.TrimStart('/')) : null;
            if (menu is not null && File.Exists(menu))
            {
                var target = Path.Combine(_paths.StateMount, GrubPaths.MenuConfig.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                AtomicFile.WriteAllBytes(target, File.ReadAllBytes(menu));
            }

            return;
        }

        // A rollback is for good: nothing of the earlier counting may send the node elsewhere.
        if (File.Exists(_paths.GrubEnvironment))
        {
            var environment = GrubEnvironment.Load(_paths.GrubEnvironment);
            BootAssessment.MarkGood(environment);
            environment.SaveForBoot(_paths.GrubEnvironment, _checkpoint);
        }
    }

    private bool IsExchanged(SwapJournal journal) =>
        Posix.TryGetStatus(_paths.ActiveImage, out var active) && active.Inode == journal.TransitionInode;

    private bool IsTransitionReady(SwapJournal journal) =>
        Posix.TryGetStatus(_paths.TransitionImage, out var transition) && transition.Inode == journal.TransitionInode
        && SlotImageFiles.HasLabel(_paths.TransitionImage, SlotLabels.Active);

    private async Task AppendHistoryOnceAsync(SwapJournal journal, string outcome, string? detail, CancellationToken cancellationToken)
    {
        var records = await _history.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (records.Any(r => r.Operation == journal.Operation && r.At == journal.StartedAt))
        {
            return;
        }

        var record = new LifecycleRecord(
            journal.Operation,
            journal.StartedAt,
            outcome,
            Slot: "active",
            ImageReference: journal.NewActive?.ImageReference,
            FromDigest: journal.FromDigest,
            ToDigest: journal.NewActive?.Digest,
            Detail: detail);
        await _history.AppendAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After a completed swap: the staged tree becomes the kept tree of its chain when the journal says so, else it goes.</summary>
    private string? RetireStaging(SwapJournal journal)
    {
        if (journal is { KeepTreeAs: { } chainId, StagingDirectory: { } staging } && journal.Operation == LifecycleOperations.Upgrade)
        {
            var store = new KeptTreeStore(_paths.TreeCacheDirectory);
            store.Keep(staging, chainId);
            return store.List().Contains(chainId) ? chainId : null;
        }

        RemoveStaging(journal);
        return null;
    }

    /// <summary>Deletes the staging tree and any half-made unpack beside it (<c>.NAME.staging-*</c>, from a cut during a full unpack).</summary>
    private static void RemoveStaging(SwapJournal journal)
    {
        if (journal.StagingDirectory is not { } staging)
        {
            return;
        }

        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        var parent = Path.GetDirectoryName(Path.GetFullPath(staging));
        if (parent is not null && Directory.Exists(parent))
        {
            foreach (var leftover in Directory.EnumerateDirectories(parent, $".{Path.GetFileName(staging)}.staging-*"))
            {
                Directory.Delete(leftover, recursive: true);
            }
        }
    }
}
