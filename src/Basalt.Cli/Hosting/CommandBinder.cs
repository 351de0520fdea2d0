using System.CommandLine;

namespace Basalt.Cli.Hosting;

/// <summary>
/// Attaches a handler to a command, giving it a <see cref="CommandContext"/> (settings, output, services)
/// instead of the raw parse result. Errors are not handled here: they propagate to <see cref="BasaltApp"/>,
/// which maps them to messages and exit codes in one place.
/// </summary>
public sealed class CommandBinder
{
    private readonly GlobalOptions _globals;
    private readonly Func<ParseResult, CommandContext> _contextFactory;

    internal CommandBinder(GlobalOptions globals, Func<ParseResult, CommandContext> contextFactory)
    {
        _globals = globals;
        _contextFactory = contextFactory;
    }

    public GlobalOptions Globals => _globals;

    public void SetHandler(Command command, Func<CommandContext, CancellationToken, Task<int>> handler)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(handler);
        command.SetAction((parseResult, cancellationToken) => handler(_contextFactory(parseResult), cancellationToken));
    }
}
