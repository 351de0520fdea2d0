using System.Globalization;
using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Boot;
using Basalt.Boot.CommandLine;
using Basalt.Boot.Grub;
using Basalt.Platform;

namespace Basalt.Agent.State;

/// <summary>
/// Gathers <see cref="NodeState"/> from a node's files: mode sentinels, kernel command line, slots file,
/// grubenv, history, mount table and filesystem space. Reading never changes the node; a source that is
/// missing or damaged becomes a warning and a gap, not a failure, so <c>basalt state</c> works on a node in
/// trouble.
/// </summary>
public sealed class NodeStateReader
{
    private readonly NodePaths _paths;

    public NodeStateReader(NodePaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        _paths = paths;
    }

    public async Task<NodeState> ReadAsync(CancellationToken cancellationToken = default)
    {
        var warnings = new List<string>();
        var running = RunningSystem.Read(_paths);

        var slots = SlotTable.Empty;
        try
        {
            slots = await new SlotStore(_paths.SlotsFile).ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SlotsFileUnreadableException e)
        {
            warnings.Add(e.Message);
        }

        IReadOnlyDictionary<string, string> grubenv = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(_paths.GrubEnvironment))
        {
            try
            {
                grubenv = GrubEnvironment.Load(_paths.GrubEnvironment).Variables.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            }
            catch (Exception e) when (e is BootException or IOException or UnauthorizedAccessException)
            {
                warnings.Add($"the GRUB environment {_paths.GrubEnvironment} cannot be read: {e.Message}");
            }
        }
        else
        {
            warnings.Add($"no GRUB environment at {_paths.GrubEnvironment}: boot counting is unknown");
        }

        var history = new LifecycleHistoryContents([], []);
        try
        {
            history = await new FileLifecycleHistory(_paths.History).ReadContentsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HistoryReadException e)
        {
            warnings.Add(e.Message);
        }

        foreach (var skipped in history.Skipped)
        {
            warnings.Add(skipped.Torn
                ? $"the last line of {_paths.History} was cut short (a power cut during a write) and is ignored"
                : $"line {skipped.LineNumber} of {_paths.History} is ignored: {skipped.Problem}");
        }

        var counting = Counting(grubenv);
        var partitions = Partitions(warnings);
        return new NodeState(
            running.BootMode,
            running.BootedSlot,
            running.ImageFile,
            SlotStates(slots, partitions),
            counting,
            LastFallback(counting, slots, running, history.Records),
            partitions,
            history.Records,
            warnings);
    }

    private IReadOnlyList<SlotState> SlotStates(SlotTable slots, IReadOnlyList<PartitionState> partitions)
    {
        var recoveryImage = File.Exists(_paths.RecoverySquashfs) || !File.Exists(_paths.RecoveryImage) ? _paths.RecoverySquashfs : _paths.RecoveryImage;
        return
        [
            Slot(SlotNames.Active, _paths.ActiveImage, BootKeys.StateLabel, slots.Active),
            Slot(SlotNames.Passive, _paths.PassiveImage, BootKeys.StateLabel, slots.Passive),
            Slot(SlotNames.Recovery, recoveryImage, BootKeys.RecoveryLabel, slots.Recovery),
        ];

        // An image on a partition that is not mounted here (COS_RECOVERY while the active system runs) cannot be
        // looked at: unknown, not missing.
        SlotState Slot(string name, string image, string partitionLabel, SlotInfo? info)
        {
            var partition = partitions.Single(p => p.Label == partitionLabel);
            bool? present = File.Exists(image) ? true : !partition.Mounted && partition.TotalBytes is null ? null : false;
            return new(name, image, present, partitionLabel, info?.ImageReference, info?.Digest, info?.BuildDate, info?.WrittenAt);
        }
    }

    internal static BootCountingState Counting(IReadOnlyDictionary<string, string> grubenv)
    {
        var active = Tries(Value(grubenv, GrubEnvironmentKeys.ActiveTriesLeft));
        var passive = Tries(Value(grubenv, GrubEnvironmentKeys.PassiveTriesLeft));
        var reasons = new[] { Value(grubenv, GrubEnvironmentKeys.FallbackReason), Value(grubenv, GrubEnvironmentKeys.LastFailure) }.OfType<string>().ToList();
        return new BootCountingState(
            Armed: active is not null || passive is not null,
            active,
            passive,
            Value(grubenv, GrubEnvironmentKeys.LastBootEntry),
            Value(grubenv, GrubEnvironmentKeys.NextEntry),
            Value(grubenv, GrubEnvironmentKeys.SavedEntry),
            reasons.Count == 0 ? null : string.Join("; ", reasons));

        // The menu treats anything it cannot count down as no tries left (BootAssessment.Decrement).
        static int? Tries(string? value) =>
            value is null ? null
            : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= BootAssessment.MaxTries ? n : 0;
    }

    private static FallbackState? LastFallback(BootCountingState counting, SlotTable slots, RunningSystem running, IReadOnlyList<LifecycleRecord> history)
    {
        if (counting.PendingFallbackReason is { } pending)
        {
            var failed = running.Slot is SlotNames.Passive or SlotNames.Recovery ? slots.Active : null;
            return new FallbackState("grubenv", pending, null, running.Slot, failed?.ImageReference, failed?.Digest);
        }

        var recorded = history.LastOrDefault(r => r.Operation == LifecycleOperations.Fallback);
        return recorded is null
            ? null
            : new FallbackState("history", recorded.Detail ?? "(no reason recorded)", recorded.At, recorded.Slot, recorded.ImageReference, recorded.FromDigest);
    }

    private IReadOnlyList<PartitionState> Partitions(List<string> warnings)
    {
        IReadOnlyList<MountEntry>? mounts = null;
        try
        {
            if (File.Exists(_paths.MountInfo))
            {
                mounts = MountTable.Parse(File.ReadAllText(_paths.MountInfo));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.Add($"the mount table {_paths.MountInfo} cannot be read: {e.Message}");
        }

        return
        [
            Partition(BootKeys.StateLabel, _paths.StateMount),
            Partition(BootKeys.RecoveryLabel, _paths.RecoveryMount),
            Partition(BootKeys.DefaultOemLabel, _paths.OemMount),
            Partition(BootKeys.PersistentLabel, _paths.PersistentMount),
        ];

        PartitionState Partition(string label, string mountPoint)
        {
            var mount = mounts is null ? null : MountTable.Find(mounts, mountPoint);
            // Without a mount table the directory's own filesystem is all there is to report; with one, a
            // directory nothing is mounted on would only show the space of the filesystem beneath it.
            if (!Directory.Exists(mountPoint) || (mounts is not null && mount is null))
            {
                return new PartitionState(label, mountPoint, false, null, null, null, null);
            }

            try
            {
                var space = Posix.GetSpace(mountPoint);
                return new PartitionState(label, mountPoint, mount is not null, mount?.Source, mount?.FileSystem, space.TotalBytes, space.AvailableBytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                warnings.Add($"the space on {mountPoint} cannot be read: {e.Message}");
                return new PartitionState(label, mountPoint, mount is not null, mount?.Source, mount?.FileSystem, null, null);
            }
        }
    }

    private static string? Value(IReadOnlyDictionary<string, string> environment, string key) =>
        environment.TryGetValue(key, out var value) && value.Length > 0 ? value : null;
}
