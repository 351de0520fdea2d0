using System.Runtime.InteropServices;
using Basalt.Cli.Hosting;

namespace Basalt.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        // Ctrl-C and SIGTERM cancel the running command; it stops at the next await and cleans up its temporaries.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Cancel(context, cancellation));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Cancel(context, cancellation));
        return await BasaltApp.RunAsync(args, Console.Out, Console.Error, CliEnvironment.Detect(), cancellation.Token).ConfigureAwait(false);
    }

    private static void Cancel(PosixSignalContext context, CancellationTokenSource cancellation)
    {
        context.Cancel = true;
        cancellation.Cancel();
    }
}
