namespace Basalt.Testing;

/// <summary>Keeps every progress report, in order, synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
public sealed class RecordingProgress<T> : IProgress<T>
{
    private readonly Lock _lock = new();
    private readonly List<T> _updates = [];

    public IReadOnlyList<T> Updates
    {
        get
        {
            lock (_lock)
            {
                return [.. _updates];
            }
        }
    }

    public void Report(T value)
    {
        lock (_lock)
        {
            _updates.Add(value);
        }
    }
}
