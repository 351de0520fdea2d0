using Basalt.Cli;
using Basalt.Cli.Hosting;

namespace Basalt.Cli.Tests;

/// <summary>Runs the CLI in-process and captures what it wrote.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr);

internal static class CliRunner
{
    public static async Task<CliRun> RunAsync(BasaltApp app, params string[] args) =>
        await RunAsync(app, CancellationToken.None, args);

    public static async Task<CliRun> RunAsync(BasaltApp app, CancellationToken cancellationToken, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await app.InvokeAsync(args, stdout, stderr, CliEnvironment.Redirected, cancellationToken);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }
}
