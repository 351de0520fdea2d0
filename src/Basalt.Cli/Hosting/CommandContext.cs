using System.CommandLine;

namespace Basalt.Cli.Hosting;

/// <summary>What a command handler gets: its parse result, the global settings, the console and the services.</summary>
public sealed class CommandContext
{
    private readonly Func<ICliServices> _services;

    internal CommandContext(ParseResult parseResult, GlobalSettings settings, CliConsole console, Func<ICliServices> services)
    {
        ParseResult = parseResult;
        Settings = settings;
        Console = console;
        _services = services;
    }

    public ParseResult ParseResult { get; }
    public GlobalSettings Settings { get; }
    public CliConsole Console { get; }

    /// <summary>The invocation's services, built on first use.</summary>
    public ICliServices Services => _services();

    public T GetServices<T>()
        where T : class, ICliServices =>
        Services as T ?? throw new InvalidOperationException($"the CLI was composed without {typeof(T).Name}");

    public T? GetValue<T>(Option<T> option) => ParseResult.GetValue(option);

    public T? GetValue<T>(Argument<T> argument) => ParseResult.GetValue(argument);

    public T GetRequiredValue<T>(Argument<T> argument) => ParseResult.GetRequiredValue(argument);
}
