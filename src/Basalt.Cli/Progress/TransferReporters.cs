using Basalt.Cli.Hosting;
using Basalt.Disk.Assembly;
using Basalt.Oci.Images;
using Basalt.Oci.Model;

namespace Basalt.Cli.Progress;

/// <summary>Receives blob transfer and image write updates and shows them; disposing it finishes the display.</summary>
public interface ITransferReporter : IProgress<TransferUpdate>, IProgress<ImageWriteUpdate>, IDisposable
{
    /// <summary>Blob bytes actually moved (skipped blobs count nothing).</summary>
    long BytesTransferred { get; }
}

public static class TransferReporter
{
    /// <summary>Live bars on a terminal (text output); otherwise one plain line per finished blob, on stderr.</summary>
    public static ITransferReporter For(CliConsole console, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        return console.LiveProgress
            ? new LiveTransferReporter(console.Error, console.Environment.TerminalWidth, clock ?? TimeProvider.System)
            : new PlainTransferReporter(console.Error);
    }

    internal static string Name(Digest digest) => $"{digest.Algorithm}:{digest.Short}";

    /// <summary>The row title of a blob transfer: <c>pushing   sha256:abc123def456</c>.</summary>
    internal static string Title(TransferUpdate update) => $"{TransferUpdate.NameOf(update.Phase),-9} {Name(update.Digest)}";

    /// <summary>The row title of an image write: <c>writing   active.img</c>.</summary>
    internal static string Title(ImageWriteUpdate update) => $"{"writing",-9} {update.Name}";
}

/// <summary>For logs and pipes: <c>pulling sha256:abc123def456 12.3 MiB</c> when each blob is done.</summary>
public sealed class PlainTransferReporter : ITransferReporter
{
    private readonly TextWriter _writer;
    private readonly Lock _lock = new();
    private long _bytes;

    public PlainTransferReporter(TextWriter writer)
    {
        _writer = writer;
    }

    public long BytesTransferred => Interlocked.Read(ref _bytes);

    public void Report(TransferUpdate value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.State == TransferState.Running)
        {
            return;
        }

        var size = Units.Bytes(Math.Max(value.Total, value.Completed));
        lock (_lock)
        {
            if (value.State == TransferState.Done)
            {
                _bytes += value.Completed;
                _writer.WriteLine($"{value.PhaseName} {TransferReporter.Name(value.Digest)} {size}");
            }
            else
            {
                _writer.WriteLine($"{value.PhaseName} {TransferReporter.Name(value.Digest)} {size} (already present)");
            }
        }
    }

    public void Report(ImageWriteUpdate value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.Done)
        {
            return;
        }

        lock (_lock)
        {
            _writer.WriteLine($"writing {value.Name} {Units.Bytes(value.BytesWritten)}");
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// A live bar per blob with bytes, rate and ETA, drawn with plain ANSI (cursor up, erase line) so it
/// needs no library and stays trim-safe. Finished rows at the top scroll out of the live region, so a
/// pull of many layers never redraws more lines than the screen holds.
/// </summary>
public sealed class LiveTransferReporter : ITransferReporter
{
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    private readonly TextWriter _writer;
    private readonly int _width;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private readonly List<Row> _rows = [];
    private int _drawnLines;
    private long _lastDraw = long.MinValue;
    private long _bytes;

    public LiveTransferReporter(TextWriter writer, int width, TimeProvider clock)
    {
        _writer = writer;
        _width = Math.Max(40, width);
        _clock = clock;
    }

    public long BytesTransferred => Interlocked.Read(ref _bytes);

    public void Report(TransferUpdate value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (_lock)
        {
            var now = _clock.GetTimestamp();
            if (Update(TransferReporter.Title(value), value.Completed, value.Total, value.State, now) && value.State == TransferState.Done)
            {
                _bytes += value.Completed;
            }
        }
    }

    public void Report(ImageWriteUpdate value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (_lock)
        {
            // An estimate can fall short of what is written: the bar stays full instead of overflowing.
            var total = value.BytesExpected > 0 ? Math.Max(value.BytesExpected, value.BytesWritten) : 0;
            Update(TransferReporter.Title(value), value.BytesWritten, total, value.Done ? TransferState.Done : TransferState.Running, _clock.GetTimestamp());
        }
    }

    /// <summary>Updates (or adds) the row <paramref name="title"/> and redraws when due; returns whether the row just finished.</summary>
    private bool Update(string title, long completed, long total, TransferState state, long now)
    {
        var row = _rows.Find(r => r.Title == title);
        if (row is null)
        {
            row = new Row(title, now);
            _rows.Add(row);
        }

        row.Completed = completed;
        row.Total = total;
        var finished = row.State == TransferState.Running && state != TransferState.Running;
        if (finished)
        {
            row.Finished = now;
        }

        row.State = state;
        if (state != TransferState.Running || _clock.GetElapsedTime(_lastDraw, now) >= RedrawInterval || _lastDraw == long.MinValue)
        {
            Draw(now);
        }

        return finished;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            Draw(_clock.GetTimestamp());
            _writer.Flush();
        }
    }

    private void Draw(long now)
    {
        _lastDraw = now;
        var text = new System.Text.StringBuilder();
        if (_drawnLines > 0)
        {
            text.Append($"\u001b[{_drawnLines}A");
        }

        // Rows finished at the top are written one last time and leave the live region.
        while (_rows.Count > 0 && _rows[0].State != TransferState.Running)
        {
            text.Append("\r\u001b[2K").Append(Fit(Describe(_rows[0], now))).Append('\n');
            _rows.RemoveAt(0);
        }

        foreach (var row in _rows)
        {
            text.Append("\r\u001b[2K").Append(Fit(Describe(row, now))).Append('\n');
        }

        // Frozen rows came out of the previous frame, so this frame covers at least as many lines: nothing stale remains.
        _drawnLines = _rows.Count;
        _writer.Write(text.ToString());
        _writer.Flush();
    }

    private string Fit(string line) => line.Length < _width ? line : line[..(_width - 1)];

    private string Describe(Row row, long now)
    {
        var name = row.Title;
        switch (row.State)
        {
            case TransferState.Skipped:
                return $"{name} already present {Units.Bytes(Math.Max(row.Total, row.Completed))}";
            case TransferState.Done:
                return $"{name} done {Units.Bytes(row.Completed)} in {Units.Duration(_clock.GetElapsedTime(row.Started, row.Finished))}";
        }

        var elapsed = _clock.GetElapsedTime(row.Started, now);
        var rate = elapsed.TotalSeconds > 0.05 ? row.Completed / elapsed.TotalSeconds : 0;
        var rateText = rate > 0 ? $"{Units.Bytes((long)rate)}/s" : "--";
        if (row.Total <= 0)
        {
            return $"{name} {Units.Bytes(row.Completed)} {rateText}";
        }

        var fraction = Math.Clamp((double)row.Completed / row.Total, 0, 1);
        const int barWidth = 24;
        var filled = (int)(fraction * barWidth);
        var bar = new string('=', filled) + (filled < barWidth ? ">" + new string(' ', barWidth - filled - 1) : string.Empty);
        var eta = rate > 0 ? Units.Duration(TimeSpan.FromSeconds((row.Total - row.Completed) / rate)) : "--:--";
        return $"{name} [{bar}] {Units.Bytes(row.Completed)}/{Units.Bytes(row.Total)} {rateText} ETA {eta}";
    }

    private sealed class Row(string title, long started)
    {
        public string Title { get; } = title;
        public long Started { get; } = started;
        public long Finished { get; set; }
        public long Completed { get; set; }
        public long Total { get; set; }
        public TransferState State { get; set; } = TransferState.Running;
    }
}
