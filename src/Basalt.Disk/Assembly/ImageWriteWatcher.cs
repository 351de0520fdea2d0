using Basalt.Platform;

namespace Basalt.Disk.Assembly;

/// <summary>How far the writing of one image file has got: its allocated bytes against what it is expected to hold (0: not known).</summary>
public sealed record ImageWriteUpdate(string Name, long BytesWritten, long BytesExpected, bool Done);

/// <summary>
/// Reports the growth of an image file while a step writes it. mkfs.ext4 -d, mksquashfs and the disk assembly say
/// nothing while they work, so the file is sampled instead: its allocated bytes, counting the temporary sibling it is
/// built as (<see cref="AtomicFile.TemporarySibling"/>) before the rename that publishes it.
/// </summary>
public static class ImageWriteWatcher
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Runs <paramref name="write"/>, reporting the growth of <paramref name="path"/> every <paramref name="interval"/> and once more when it is done.</summary>
    public static async Task WatchAsync(string path, long expectedBytes, IProgress<ImageWriteUpdate>? progress, Func<Task> write, TimeSpan? interval = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        await WatchAsync(path, expectedBytes, progress, async () =>
        {
            await write().ConfigureAwait(false);
            return true;
        }, interval, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="write"/>, reporting the growth of <paramref name="path"/> every <paramref name="interval"/> and once more when it is done.</summary>
    public static async Task<T> WatchAsync<T>(string path, long expectedBytes, IProgress<ImageWriteUpdate>? progress, Func<Task<T>> write, TimeSpan? interval = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedBytes);
        ArgumentNullException.ThrowIfNull(write);
        if (progress is null)
        {
            return await write().ConfigureAwait(false);
        }

        var name = Path.GetFileName(path);
        progress.Report(new ImageWriteUpdate(name, 0, expectedBytes, Done: false));
        T result;
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var sampling = SampleAsync(path, name, expectedBytes, progress, interval ?? DefaultInterval, stop.Token);
            try
            {
                result = await write().ConfigureAwait(false);
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);
                await sampling.ConfigureAwait(false);
            }
        }

        progress.Report(new ImageWriteUpdate(name, WrittenBytes(path), expectedBytes, Done: true));
        return result;
    }

    /// <summary>The allocated bytes of <paramref name="path"/> and of the temporary siblings it is being built as.</summary>
    public static long WrittenBytes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? "/";
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        var name = Path.GetFileName(full);
        var temporaryPrefix = $".{name}.tmp-";
        long total = 0;
        foreach (var entry in Directory.EnumerateFiles(directory))
        {
            var entryName = Path.GetFileName(entry);
            if ((entryName == name || entryName.StartsWith(temporaryPrefix, StringComparison.Ordinal)) && Posix.TryGetStatus(entry, out var status))
            {
                total += status.AllocatedBytes;
            }
        }

        return total;
    }

    private static async Task SampleAsync(string path, string name, long expectedBytes, IProgress<ImageWriteUpdate> progress, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                progress.Report(new ImageWriteUpdate(name, WrittenBytes(path), expectedBytes, Done: false));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
