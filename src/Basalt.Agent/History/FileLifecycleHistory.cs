using System.Text;
using System.Text.Json;
using Basalt.Platform;

namespace Basalt.Agent.History;

/// <summary>
/// The lifecycle history as JSON lines (one <see cref="LifecycleRecord"/> per line) on COS_PERSISTENT.
/// Each append is flushed to disk before it returns. A power cut can leave the last line torn: it is
/// skipped and reported (<see cref="ReadContentsAsync"/>), never fatal, and the next append starts on a
/// fresh line so the fragment cannot swallow it.
/// </summary>
public sealed class FileLifecycleHistory : ILifecycleHistory
{
    public FileLifecycleHistory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    public async Task AppendAsync(LifecycleRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        Validate(record);
        var line = JsonSerializer.Serialize(record, HistoryLineJsonContext.Default.LifecycleRecord);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "/";
        Directory.CreateDirectory(directory);
        var created = !File.Exists(Path);
        try
        {
            await using var stream = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 4096, useAsync: true);
            var prefix = await EndsTornAsync(stream, cancellationToken).ConfigureAwait(false) ? "\n" : string.Empty;
            stream.Seek(0, SeekOrigin.End);
            await stream.WriteAsync(Encoding.UTF8.GetBytes(prefix + line + "\n"), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HistoryWriteException(Path, e);
        }

        if (created)
        {
            // The new file's directory entry must survive a power cut too.
            Posix.SyncParent(Path);
        }
    }

    public async Task<IReadOnlyList<LifecycleRecord>> ReadAsync(CancellationToken cancellationToken = default) =>
        (await ReadContentsAsync(cancellationToken).ConfigureAwait(false)).Records;

    /// <summary>The records, oldest first, and the lines that could not be read (a torn last line after a power cut).</summary>
    public async Task<LifecycleHistoryContents> ReadContentsAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Path))
        {
            return new LifecycleHistoryContents([], []);
        }

        string text;
        try
        {
            text = await File.ReadAllTextAsync(Path, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HistoryReadException(Path, e);
        }

        return Parse(text);
    }

    /// <summary>Reads JSON-lines history text; an unreadable line is skipped and reported with its number.</summary>
    public static LifecycleHistoryContents Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var records = new List<LifecycleRecord>();
        var skipped = new List<SkippedHistoryLine>();
        var lines = text.Split('\n');
        var terminated = text.EndsWith('\n');
        for (var index = 0; index < lines.Length; index++)
        {
            var line = lines[index].TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                continue;
            }

            var last = index == lines.Length - 1;
            if (TryParse(line, out var record, out var problem))
            {
                records.Add(record);
            }
            else
            {
                skipped.Add(new SkippedHistoryLine(index + 1, problem, Torn: last && !terminated));
            }
        }

        return new LifecycleHistoryContents(records, skipped);
    }

    private static bool TryParse(string line, out LifecycleRecord record, out string problem)
    {
        record = null!;
        try
        {
            var parsed = JsonSerializer.Deserialize(line, HistoryLineJsonContext.Default.LifecycleRecord);
            if (parsed is null || string.IsNullOrEmpty(parsed.Operation) || string.IsNullOrEmpty(parsed.Outcome) || parsed.At == default)
            {
                problem = "the record has no operation, outcome or time";
                return false;
            }

            record = parsed;
            problem = string.Empty;
            return true;
        }
        catch (JsonException e)
        {
            problem = $"not a JSON record ({e.Message})";
            return false;
        }
    }

    private static async Task<bool> EndsTornAsync(FileStream stream, CancellationToken cancellationToken)
    {
        if (stream.Length == 0)
        {
            return false;
        }

        stream.Seek(-1, SeekOrigin.End);
        var last = new byte[1];
        await stream.ReadExactlyAsync(last, cancellationToken).ConfigureAwait(false);
        return last[0] != (byte)'\n';
    }

    private static void Validate(LifecycleRecord record)
    {
        if (string.IsNullOrEmpty(record.Operation) || string.IsNullOrEmpty(record.Outcome))
        {
            throw new ArgumentException("a lifecycle record needs an operation and an outcome", nameof(record));
        }

        if (record.At == default)
        {
            throw new ArgumentException("a lifecycle record needs the time it happened", nameof(record));
        }
    }
}

/// <summary>What the history file holds: readable records, oldest first, and the lines that were skipped.</summary>
public sealed record LifecycleHistoryContents(IReadOnlyList<LifecycleRecord> Records, IReadOnlyList<SkippedHistoryLine> Skipped)
{
    /// <summary>True when the last line was cut short (a power cut during an append).</summary>
    public bool HasTornLastLine => Skipped.Any(s => s.Torn);
}

/// <summary>A history line that could not be read; <paramref name="Torn"/> when it is an unterminated last line.</summary>
public sealed record SkippedHistoryLine(int LineNumber, string Problem, bool Torn);

public sealed class HistoryWriteException : AgentException
{
    public HistoryWriteException(string path, Exception inner)
        : base($"the lifecycle history {path} could not be written: {inner?.Message}", "check that COS_PERSISTENT is mounted read-write and has space", inner)
    {
    }

    public override string Kind => "history-write";
}

public sealed class HistoryReadException : AgentException
{
    public HistoryReadException(string path, Exception inner)
        : base($"the lifecycle history {path} could not be read: {inner?.Message}", "check that COS_PERSISTENT is mounted and readable", inner)
    {
    }

    public override string Kind => "history-read";
}
