using Basalt.Platform;

namespace Basalt.Testing;

/// <summary>Records the paths a caller checkpoints (and, when given, what it sees then) instead of touching any journal.</summary>
public sealed class RecordingJournalCheckpoint(Action<string>? observe = null) : IJournalCheckpoint
{
    private readonly List<string> _paths = [];

    public IReadOnlyList<string> Paths => _paths;

    public JournalCheckpointOutcome Checkpoint(string path)
    {
        _paths.Add(path);
        observe?.Invoke(path);
        return JournalCheckpointOutcome.Written;
    }
}
