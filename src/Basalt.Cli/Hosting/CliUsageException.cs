using Basalt.Platform;

namespace Basalt.Cli.Hosting;

/// <summary>The command line was well-formed but meaningless (e.g. a --label without '='); exits 2.</summary>
public sealed class CliUsageException : BasaltException
{
    public CliUsageException(string message, string? hint = null)
        : base(message, hint)
    {
    }

    public override string Kind => "usage";
}
