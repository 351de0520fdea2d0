using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Agent.State;
using Basalt.Boot;
using Basalt.Boot.Grub;
using Basalt.Platform;

namespace Basalt.Agent.Assessment;

/// <summary>
/// Carries out <c>basalt boot mark-good</c> on a node: reads the grubenv, the running slot, the slots file
/// and the history, plans (<see cref="GoodBootPlanner"/>), then appends the history first, writes the
/// sentinel, and saves the grubenv last. A power cut before the grubenv is saved repeats the bookkeeping on
/// the next good boot, and the repeated fallback is recognised and not recorded twice.
/// </summary>
public sealed class GoodBootMarker
{
    private readonly NodePaths _paths;
    private readonly ILifecycleHistory _history;
    private readonly TimeProvider _clock;
    private readonly IJournalCheckpoint _checkpoint;

    public GoodBootMarker(NodePaths paths, ILifecycleHistory? history = null, TimeProvider? clock = null, IJournalCheckpoint? checkpoint = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        _paths = paths;
        _history = history ?? new FileLifecycleHistory(paths.History);
        _clock = clock ?? TimeProvider.System;
        _checkpoint = checkpoint ?? new JournalCheckpoint();
    }

    /// <summary>The grubenv this marker edits (<see cref="NodePaths.GrubEnvironment"/> unless given).</summary>
    public string? GrubEnvironmentPath { get; init; }

    public async Task<GoodBootResult> MarkGoodAsync(CancellationToken cancellationToken = default)
    {
        var grubenvPath = GrubEnvironmentPath ?? _paths.GrubEnvironment;
        if (!File.Exists(grubenvPath))
        {
            throw new GrubEnvironmentMissingException(grubenvPath);
        }

        var environment = GrubEnvironment.Load(grubenvPath);
        var running = RunningSystem.Read(_paths);
        var warnings = new List<string>();
        var slots = SlotTable.Empty;
        try
        {
            slots = await new SlotStore(_paths.SlotsFile).ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SlotsFileUnreadableException e)
        {
            // The boot is still good; the fallback is recorded without naming the images.
            warnings.Add(e.Message);
        }

        IReadOnlyList<LifecycleRecord> history = [];
        try
        {
            history = await _history.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            warnings.Add(e.Message);
        }

        var variables = environment.Variables.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        var plan = GoodBootPlanner.Plan(variables, running.Slot, slots, history.Count == 0 ? null : history[^1], _clock.GetUtcNow());
        if (running.Slot is null)
        {
            warnings.Add($"could not tell which slot this boot runs (no slot in {_paths.KernelCommandLine}, no mode sentinel in {_paths.SentinelDirectory}); counting is cleared as for the active system");
        }

        // The grubenv is what keeps the node out of a needless fallback: the history and the sentinel are
        // written first, but a failure of either is reported and never stops the boot from being marked good.
        foreach (var record in plan.Records)
        {
            try
            {
                await _history.AppendAsync(record, cancellationToken).ConfigureAwait(false);
            }
            catch (BasaltException e)
            {
                warnings.Add(e.Message);
            }
        }

        if (plan.UpgradeFailure is { } failure)
        {
            try
            {
                Directory.CreateDirectory(_paths.SentinelDirectory);
                AtomicFile.WriteAllText(_paths.UpgradeFailureSentinel, failure + "\n");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or BasaltException)
            {
                warnings.Add($"the {_paths.UpgradeFailureSentinel} sentinel could not be written: {e.Message}");
            }
        }

        GoodBootPlanner.Apply(plan, environment);
        environment.SaveForBoot(grubenvPath, _checkpoint);
        return new GoodBootResult(plan, grubenvPath, warnings);
    }
}

/// <summary>What a mark-good did, for the CLI to report.</summary>
public sealed record GoodBootResult(GoodBootPlan Plan, string GrubEnvironmentPath, IReadOnlyList<string> Warnings);
