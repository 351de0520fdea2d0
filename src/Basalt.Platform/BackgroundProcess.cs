using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Platform;

/// <summary>
/// A long-running program (a VM, a registry, a server) that Basalt starts, talks to and always stops:
/// its output is copied line by line to a log and to listeners; disposing kills the whole tree.
/// </summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ILogger _logger;
    private readonly StreamWriter? _log;
    private readonly Lock _gate = new();
    private readonly StringBuilder _output = new();
    private readonly List<Action<string>> _listeners = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _pumps;

    private BackgroundProcess(Process process, string commandLine, string? logPath, ILogger logger)
    {
        _process = process;
        CommandLine = commandLine;
        _logger = logger;
        if (logPath is not null)
        {
            _log = new StreamWriter(new FileStream(logPath, FileMode.Create, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        }

        _pumps = Task.WhenAll(Pump(process.StandardOutput), Pump(process.StandardError))
            .ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        _ = WatchExitAsync();
    }

    public string CommandLine { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _exited.Task.IsCompleted;

    public int? ExitCode => HasExited ? _process.ExitCode : null;

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
        var startInfo = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = invocation.WorkingDirectory ?? string.Empty,
        };
        foreach (var argument in invocation.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (invocation.Environment is not null)
        {
            foreach (var (key, value) in invocation.Environment)
            {
                startInfo.Environment[key] = value;
            }
        }

        logger ??= NullLogger.Instance;
        logger.LogDebug("start: {CommandLine}", invocation.CommandLine);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.Start();
        return new BackgroundProcess(process, invocation.CommandLine, logPath, logger);
    }

    /// <summary>Writes text to the program's stdin (for a VM: typing on its serial console).</summary>
    public async Task SendAsync(string text, CancellationToken cancellationToken = default)
    {
        await _process.StandardInput.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
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
                await _pumps.ConfigureAwait(false);
                if (found.Task.IsCompleted)
                {
                    return await found.Task.ConfigureAwait(false);
                }

                if (FindIn(OutputSince(fromOffset), predicate) is { } last)
                {
                    return last;
                }
            }

            var reason = finished == _exited.Task ? $"the program exited with code {_process.ExitCode}" : $"nothing matched within {timeout.TotalSeconds:0} s";
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
        await _pumps.ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Kills the program and its children at once (for a VM: pulling the power cord).</summary>
    public async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }

        await _exited.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        await _pumps.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task WatchExitAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        _exited.TrySetResult();
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
