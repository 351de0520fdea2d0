using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Text.Json;
using Basalt.Cli.Commands;
using Basalt.Cli.Hosting;
using Basalt.Platform;

namespace Basalt.Cli;

/// <summary>
/// The `basalt` command: builds the command tree from command groups, runs one invocation, and maps
/// every outcome to an exit code (0 ok, 1 failure, 2 usage error, 130 cancelled). Runs in-process
/// with any writers, so tests drive it exactly as a user would.
/// </summary>
public sealed class BasaltApp
{
    private readonly IReadOnlyList<ICommandGroup> _groups;
    private readonly CliServicesFactory _servicesFactory;

    public BasaltApp(IEnumerable<ICommandGroup> groups, CliServicesFactory servicesFactory)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(servicesFactory);
        _groups = [.. groups];
        _servicesFactory = servicesFactory;
    }

    /// <summary>Every command group of the shipped CLI. New subsystems add theirs here.</summary>
    public static IReadOnlyList<ICommandGroup> DefaultGroups => CommandGroups.All;

    public static BasaltApp CreateDefault() => new(DefaultGroups, CliServices.Create);

    /// <summary>The version printed by --version: the assembly's informational version.</summary>
    public static string Version =>
        typeof(BasaltApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BasaltApp).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CliEnvironment? environment = null, CancellationToken cancellationToken = default) =>
        CreateDefault().InvokeAsync(args, stdout, stderr, environment, cancellationToken);

    public async Task<int> InvokeAsync(string[] args, TextWriter stdout, TextWriter stderr, CliEnvironment? environment = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        environment ??= CliEnvironment.Redirected;

        var globals = new GlobalOptions();
        var services = new ServiceSlot(_servicesFactory);
        var binder = new CommandBinder(globals, parseResult =>
        {
            var settings = globals.Read(parseResult);
            var console = new CliConsole(stdout, stderr, settings.Output, settings.Verbose, environment);
            return new CommandContext(parseResult, settings, console, () => services.Get(settings));
        });
        var root = BuildRoot(globals, binder);

        var parseResult = root.Parse(args);
        var format = globals.ReadFormat(parseResult);
        var verbose = globals.ReadVerbose(parseResult);

        if (parseResult.Action is ParseErrorAction)
        {
            WriteUsageErrors(parseResult, format, stderr);
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            // Ctrl-C is turned into cancellation by Program, not by the parser, so in-process runs stay in control.
            ProcessTerminationTimeout = null,
        };

        try
        {
            return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            WriteError(stderr, format, "cancelled", "cancelled", "nothing was left half-written; run the command again to continue", null);
            return ExitCodes.Cancelled;
        }
        catch (CliUsageException exception)
        {
            WriteError(stderr, format, exception.Message, exception.Kind, exception.Hint ?? HelpHint(parseResult), verbose ? exception : null);
            return ExitCodes.Usage;
        }
        catch (BasaltException exception)
        {
            WriteError(stderr, format, exception.Message, exception.Kind, exception.Hint, verbose ? exception : null);
            return ExitCodes.Failure;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            WriteError(
                stderr,
                format,
                $"{exception.GetType().Name}: {exception.Message}",
                "internal",
                verbose ? null : "this is a bug in basalt or an unexpected system error; rerun with --verbose for details",
                verbose ? exception : null);
            return ExitCodes.Failure;
        }
        finally
        {
            await services.DisposeAsync().ConfigureAwait(false);
        }
    }

    private RootCommand BuildRoot(GlobalOptions globals, CommandBinder binder)
    {
        var root = new RootCommand("basalt: turn a Linux distribution shipped as an OCI image into an immutable, A/B-upgraded OS for edge Kubernetes nodes");
        foreach (var option in globals.All)
        {
            root.Options.Add(option);
        }

        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new PrintVersionAction();
        }

        foreach (var group in _groups)
        {
            foreach (var command in group.CreateCommands(binder))
            {
                root.Subcommands.Add(command);
            }
        }

        return root;
    }

    private static void WriteUsageErrors(ParseResult parseResult, OutputFormat format, TextWriter stderr)
    {
        var message = string.Join("; ", parseResult.Errors.Select(error => error.Message));
        WriteError(stderr, format, message, "usage", HelpHint(parseResult), null);
    }

    private static string HelpHint(ParseResult parseResult)
    {
        var path = new List<string>();
        for (var result = parseResult.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            path.Insert(0, result.Command is RootCommand ? "basalt" : result.Command.Name);
        }

        return $"run '{string.Join(' ', path)} --help' for usage";
    }

    private static void WriteError(TextWriter stderr, OutputFormat format, string message, string kind, string? hint, Exception? detail)
    {
        if (format == OutputFormat.Json)
        {
            stderr.WriteLine(JsonSerializer.Serialize(new ErrorDocument(message, kind, hint), CliJson.Errors.ErrorDocument));
            if (detail is not null)
            {
                stderr.WriteLine(detail.ToString());
            }

            return;
        }

        stderr.WriteLine($"error: {message}");
        if (!string.IsNullOrEmpty(hint))
        {
            stderr.WriteLine($"hint: {hint}");
        }

        if (detail is not null)
        {
            stderr.WriteLine(detail.ToString());
        }
    }

    private sealed class PrintVersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine($"basalt {Version}");
            return ExitCodes.Success;
        }
    }

    /// <summary>Builds the services on first use and disposes them when the invocation ends.</summary>
    private sealed class ServiceSlot(CliServicesFactory factory) : IAsyncDisposable
    {
        private ICliServices? _services;

        public ICliServices Get(GlobalSettings settings) => _services ??= factory(settings);

        public async ValueTask DisposeAsync()
        {
            if (_services is not null)
            {
                await _services.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
