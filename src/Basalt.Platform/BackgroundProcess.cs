using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Platform;

/// <summary>
/// A long-running program (a VM, a registry, a server) that Basalt starts, talks to and always stops:
/// its output is copied line by line to a log and to listeners; disposing kills the whole tree. It can be restarted
/// (<see cref="RestartAsync"/>): the output goes on in the same buffer and log, and waiters see one program.
/// </summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly ProcessStartInfo _startInfo;
    private readonly ILogger _logger;
    private readonly StreamWriter? _log;
    private readonly Lock _gate = new();
    private readonly StringBuilder _output = new();
    private readonly List<Action<string>> _listeners = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process _process;
    private Task _pumps;
    private bool _restarting;

    private BackgroundProcess(Process process, ProcessStartInfo startInfo, string commandLine, string? logPath, ILogger logger)
    {
        _process = process;
        _startInfo = startInfo;
        CommandLine = commandLine;
        _logger = logger;
        if (logPath is not null)
        {
            _log = new StreamWriter(new FileStream(logPath, FileMode.Create, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        }

        _pumps = PumpAll(process);
        _ = WatchExitAsync(process);
    }

    public string CommandLine { get; }

    public int ProcessId => CurrentProcess.Id;

    public bool HasExited => _exited.Task.IsCompleted;

    public int? ExitCode => HasExited ? CurrentProcess.ExitCode : null;

    /// <summary>Everything the program printed so far (stdout and stderr interleaved by line).</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public static BackgroundProcess Start(ToolInvocation invocation, IToolRunner tools, string? logPath = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        ArgumentNullException.ThrowIfNull(tools);
        var executable = tools.Locate(invocation.Tool) ?? throw new ToolNotFoundException(invocation.Tool, invocation.Package);
        var startInfo = invocation.ToStartInfo(executable);

        logger ??= NullLogger.Instance;
        logger.LogDebug("start: {CommandLine}", invocation.CommandLine);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.Start();
        return new BackgroundProcess(process, startInfo, invocation.CommandLine, logPath, logger);
    }

    /// <summary>
    /// Kills the program and starts it again with the same command line (for a VM: a power cycle). The output goes on
    /// in the same buffer and log after <paramref name="note"/>, and a wait in progress goes on too: it does not end
    /// because the old program exited.
    /// </summary>
    public async Task RestartAsync(string note, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(note);
        Process old;
        Task oldPumps;
        lock (_gate)
        {
            if (_exited.Task.IsCompleted)
            {
                throw new InvalidOperationException($"'{CommandLine}' has already stopped; it is not restarted");
            }

            _restarting = true;
            old = _process;
            oldPumps = _pumps;
        }

        var started = false;
        try
        {
            KillTree(old);
            await old.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            await oldPumps.ConfigureAwait(false);
            _logger.LogWarning("restart: {CommandLine} ({Note})", CommandLine, note);
            Append("\n" + note + "\n");
            var process = new Process { StartInfo = _startInfo, EnableRaisingEvents = true };
            process.Start();
            lock (_gate)
            {
                _process = process;
                _pumps = PumpAll(process);
            }

            _ = WatchExitAsync(process);
            started = true;
            old.Dispose();
        }
        finally
        {
            lock (_gate)
            {
                _restarting = false;
            }

            // A restart cut short (cancelled, or the program would not start again) leaves a program that has ended.
            if (!started && old.HasExited)
            {
                _exited.TrySetResult();
            }
        }
    }

    /// <summary>Writes text to the program's stdin (for a VM: typing on its serial console).</summary>
    public async Task SendAsync(string text, CancellationToken cancellationToken = default)
    {
        var input = CurrentProcess.StandardInput;
        await input.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
        await input.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private Process CurrentProcess
    {
        get
        {
            lock (_gate)
            {
                return _process;
            }
        }
    }

    private Task CurrentPumps
    {
        get
        {
            lock (_gate)
            {
                return _pumps;
            }
        }
    }

    /// <summary>
    /// Waits until a line of output satisfies <paramref name="predicate"/> (lines printed before the
    /// call count from <paramref name="fromOffset"/> on), the program exits, or the timeout passes.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, int fromOffset = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Listener(string line)
        {
            if (predicate(line))
            {
                found.TrySetResult(line);
            }
        }

        lock (_gate)
        {
            if (FindIn(OutputSince(fromOffset), predicate) is { } earlier)
            {
                return earlier;
            }

            _listeners.Add(Listener);
        }

        try
        {
            using var timer = new CancellationTokenSource(timeout);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
            var finished = await Task.WhenAny(found.Task, _exited.Task, Task.Delay(Timeout.Infinite, linked.Token)).ConfigureAwait(false);
            if (finished == found.Task)
            {
                return await found.Task.ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (finished == _exited.Task)
            {
                // The program may have printed the awaited line just before it exited: read what is left first.
                await CurrentPumps.ConfigureAwait(false);
                if (found.Task.IsCompleted)
                {
                    return await found.Task.ConfigureAwait(false);
                }

                if (FindIn(OutputSince(fromOffset), predicate) is { } last)
                {
                    return last;
                }
            }

            var reason = finished == _exited.Task ? $"the program exited with code {CurrentProcess.ExitCode}" : $"nothing matched within {timeout.TotalSeconds:0} s";
            throw new TimeoutException($"{reason} while waiting on '{CommandLine}'");
        }
        finally
        {
            lock (_gate)
            {
                _listeners.Remove(Listener);
            }
        }
    }

    private string OutputSince(int offset)
    {
        lock (_gate)
        {
            var start = Math.Min(offset, _output.Length);
            return _output.ToString(start, _output.Length - start);
        }
    }

    private static string? FindIn(string text, Func<string, bool> predicate) =>
        text.Split('\n').Select(line => line.TrimEnd('\r')).FirstOrDefault(predicate);

    /// <summary>Length of the output so far; pass it to <see cref="WaitForLineAsync"/> to ignore earlier lines.</summary>
    public int OutputLength
    {
        get
        {
            lock (_gate)
            {
                return _output.Length;
            }
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var timer = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
        await _exited.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        await CurrentPumps.ConfigureAwait(false);
        return CurrentProcess.ExitCode;
    }

    /// <summary>Kills the program and its children at once (for a VM: pulling the power cord).</summary>
    public async Task KillAsync()
    {
        KillTree(CurrentProcess);
        await _exited.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        await CurrentPumps.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        CurrentProcess.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private Task PumpAll(Process process) =>
        Task.WhenAll(Pump(process.StandardOutput), Pump(process.StandardError))
            .ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    /// <summary>The program's end is the end only for the run still current: a run ended by a restart is not.</summary>
    private async Task WatchExitAsync(Process process)
    {
        await process.WaitForExitAsync().ConfigureAwait(false);
        lock (_gate)
        {
            if (_restarting || !ReferenceEquals(process, _process))
            {
                return;
            }
        }

        _exited.TrySetResult();
    }

    /// <summary>Adds text of Basalt's own to the output, as if the program had printed it.</summary>
    private void Append(string text)
    {
        Action<string>[] listeners;
        lock (_gate)
        {
            _output.Append(text);
            _log?.Write(text);
            listeners = [.. _listeners];
        }

        foreach (var listener in listeners)
        {
            listener(text.TrimEnd('\n'));
        }
    }

    private async Task Pump(StreamReader reader)
    {
        // Read characters, not lines: prompts such as "login: " end without a newline and must be seen.
        var buffer = new char[4096];
        var pending = new StringBuilder();
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory()).ConfigureAwait(false)) > 0)
        {
            var completed = new List<string>();
            Action<string>[] listeners;
            string partial;
            lock (_gate)
            {
                _output.Append(buffer, 0, read);
                for (var i = 0; i < read; i++)
                {
                    if (buffer[i] == '\n')
                    {
                        var line = pending.ToString().TrimEnd('\r');
                        completed.Add(line);
                        _log?.WriteLine(line);
                        pending.Clear();
                    }
                    else
                    {
                        pending.Append(buffer[i]);
                    }
                }

                partial = pending.ToString();
                listeners = [.. _listeners];
            }

            foreach (var listener in listeners)
            {
                foreach (var line in completed)
                {
                    listener(line);
                }

                if (partial.Length > 0)
                {
                    listener(partial);
                }
            }
        }

        if (pending.Length > 0)
        {
            lock (_gate)
            {
                _log?.WriteLine(pending.ToString());
            }
        }
    }
}
