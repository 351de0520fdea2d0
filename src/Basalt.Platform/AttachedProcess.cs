using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Platform;

/// <summary>
/// Runs a program on this process's own terminal (stdin, stdout and stderr inherited, nothing captured), for
/// interactive tools such as a VM whose serial console the user types on. Cancelling kills the program's tree.
/// </summary>
public static class AttachedProcess
{
    /// <summary>Runs <paramref name="invocation"/> attached and returns its exit code (any code: the caller decides).</summary>
    public static async Task<int> RunAsync(ToolInvocation invocation, IToolRunner tools, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        ArgumentNullException.ThrowIfNull(tools);
        var executable = tools.Locate(invocation.Tool) ?? throw new ToolNotFoundException(invocation.Tool, invocation.Package);
        var startInfo = invocation.ToStartInfo(executable);
        startInfo.RedirectStandardInput = false;
        startInfo.RedirectStandardOutput = false;
        startInfo.RedirectStandardError = false;
        (logger ?? NullLogger.Instance).LogDebug("run attached: {CommandLine}", invocation.CommandLine);

        using var process = new Process { StartInfo = startInfo };
        process.Start();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
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

            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
