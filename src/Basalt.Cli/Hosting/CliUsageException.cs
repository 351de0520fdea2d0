using Basalt.Platform;

namespace Basalt.Cli.Hosting;

/// <summary>The command line was well-formed but meaningless (a bad reference, a --label without '='); exits 2.</summary>
public sealed class CliUsageException : BasaltException
{
    private readonly string _kind;

    public CliUsageException(string message, string? hint = null)
        : base(message, hint)
    {
        _kind = "usage";
    }

    /// <summary>An input error found by a parser below the CLI (reference, platform), reported as a usage error.</summary>
    public CliUsageException(BasaltException inner)
        : base(inner?.Message ?? string.Empty, inner?.Hint, inner)
    {
        _kind = inner?.Kind ?? "usage";
    }

    public override string Kind => _kind;
}
