using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Platform;

/// <summary>One call of an external program, as data: printable, testable, logged before it runs.</summary>
public sealed record ToolInvocation(string Tool, IReadOnlyList<string> Arguments)
{
    /// <summary>The Debian package that provides <see cref="Tool"/>, named in the error when it is missing.</summary>
    public string? Package { get; init; }
    public string? WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
    /// <summary>Bytes written to the program's stdin, then closed. Null: stdin is closed at once.</summary>
    public Stream? StandardInput { get; init; }
    /// <summary>When set, stdout is copied here instead of being captured as text.</summary>
    public Stream? StandardOutput { get; init; }
    /// <summary>Exit codes that count as success; defaults to 0 only.</summary>
    public IReadOnlyList<int> SuccessExitCodes { get; init; } = [0];
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// <paramref name="arguments"/> run inside <paramref name="root"/> by chroot(8). TMPDIR is /tmp there: a host's
    /// TMPDIR names a directory of the host, not of the root, and dpkg's maintainer scripts fail on one that is missing.
    /// </summary>
    public static ToolInvocation InRoot(string root, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(arguments);
        var merged = new Dictionary<string, string>(StringComparer.Ordinal) { ["TMPDIR"] = "/tmp" };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            merged[key] = value;
        }

        return new ToolInvocation("chroot", [root, .. arguments]) { Package = "coreutils", Environment = merged };
    }

    /// <summary>How the process is started: every stream redirected, arguments passed as a list (no shell).</summary>
    internal ProcessStartInfo ToStartInfo(string executable)
    {
        var startInfo = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = WorkingDirectory ?? string.Empty,
        };
        foreach (var argument in Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (Environment is not null)
        {
            foreach (var (key, value) in Environment)
            {
                startInfo.Environment[key] = value;
            }
        }

        return startInfo;
    }

    public string CommandLine => string.Join(' ', new[] { Tool }.Concat(Arguments).Select(Quote));

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@+%".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''") + "'";
}

public sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed);

/// <summary>The one way Basalt runs external programs (mkfs, mksquashfs, sgdisk, qemu, …).</summary>
public interface IToolRunner
{
    /// <summary>Runs the tool; throws <see cref="ToolNotFoundException"/> or <see cref="ToolFailedException"/>.</summary>
    Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default);

    /// <summary>The absolute path of <paramref name="tool"/> on PATH, or null.</summary>
    string? Locate(string tool);
}

public sealed class ToolRunner : IToolRunner
{
    private readonly ILogger _logger;

    public ToolRunner(ILogger<ToolRunner>? logger = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public string? Locate(string tool)
    {
        ArgumentException.ThrowIfNullOrEmpty(tool);
        if (tool.Contains('/'))
        {
            return File.Exists(tool) ? tool : null;
        }

        var path = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        // sbin is often missing from a non-login PATH, yet that is where mkfs and sgdisk live.
        foreach (var directory in path.Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]).Distinct())
        {
            if (directory.Length == 0)
            {
                continue;
            }

            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public async Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        var executable = Locate(invocation.Tool) ?? throw new ToolNotFoundException(invocation.Tool, invocation.Package);
        _logger.LogDebug("run: {CommandLine}", invocation.CommandLine);

        var startInfo = invocation.ToStartInfo(executable);

        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = startInfo };
        process.Start();

        using var timeout = invocation.Timeout is { } limit ? new CancellationTokenSource(limit) : null;
        using var linked = timeout is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;

        var stderrTask = process.StandardError.ReadToEndAsync(token);
        Task<string> stdoutTask = invocation.StandardOutput is { } sink
            ? process.StandardOutput.BaseStream.CopyToAsync(sink, token).ContinueWith(_ => string.Empty, token, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default)
            : process.StandardOutput.ReadToEndAsync(token);

        try
        {
            if (invocation.StandardInput is { } input)
            {
                try
                {
                    await input.CopyToAsync(process.StandardInput.BaseStream, token).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // The tool closed stdin early; its exit code tells the story.
                }
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(token).ConfigureAwait(false);
            var stdout = await stdoutTask.ConfigureAwait(false);
            var stderr = await stderrTask.ConfigureAwait(false);
            stopwatch.Stop();
            var result = new ToolResult(process.ExitCode, stdout, stderr, stopwatch.Elapsed);
            if (!invocation.SuccessExitCodes.Contains(process.ExitCode))
            {
                _logger.LogDebug("failed ({ExitCode}): {CommandLine}\n{Stderr}", process.ExitCode, invocation.CommandLine, stderr);
                throw new ToolFailedException(invocation.CommandLine, process.ExitCode, stderr);
            }

            return result;
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            if (timeout is not null && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ToolFailedException(invocation.CommandLine, -1, $"timed out after {invocation.Timeout}");
            }

            throw;
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
            // Already gone.
        }
    }
}
