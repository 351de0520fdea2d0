using System.CommandLine;

namespace Basalt.Cli.Hosting;

/// <summary>How results and errors are written: for people, or for programs.</summary>
public enum OutputFormat
{
    Text,
    Json,
}

/// <summary>The options every command accepts; they are recursive so they may follow any subcommand.</summary>
public sealed class GlobalOptions
{
    public GlobalOptions()
    {
        Output.AcceptOnlyFromAmong("text", "json");
    }

    public Option<string> Output { get; } = new("--output", "-o")
    {
        Description = "Output format: text for people, json for programs",
        Recursive = true,
        DefaultValueFactory = _ => "text",
        HelpName = "text|json",
    };

    public Option<bool> Verbose { get; } = new("--verbose", "-v")
    {
        Description = "Show details of what happens, and stack traces of errors",
        Recursive = true,
    };

    public Option<string?> CacheDir { get; } = new("--cache-dir")
    {
        Description = "Blob cache directory (default: /var/cache/basalt as root, $XDG_CACHE_HOME/basalt otherwise)",
        Recursive = true,
        HelpName = "DIR",
    };

    public Option<string[]> InsecureRegistries { get; } = new("--insecure-registry")
    {
        Description = "Allow plain HTTP to this registry host[:port] (repeatable)",
        Recursive = true,
        HelpName = "HOST",
        DefaultValueFactory = _ => [],
    };

    public Option<string?> Platform { get; } = new("--platform")
    {
        Description = "Platform to select from multi-platform images, e.g. linux/amd64, linux/arm64/v8 (default: this machine)",
        Recursive = true,
        HelpName = "OS/ARCH[/VARIANT]",
    };

    public IEnumerable<Option> All => [Output, Verbose, CacheDir, InsecureRegistries, Platform];

    public GlobalSettings Read(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        return new GlobalSettings(
            ReadFormat(parseResult),
            parseResult.GetValue(Verbose),
            parseResult.GetValue(CacheDir),
            parseResult.GetValue(InsecureRegistries) ?? [],
            parseResult.GetValue(Platform));
    }

    /// <summary>The output format, even from a command line that failed to parse (errors still honour --output json).</summary>
    public OutputFormat ReadFormat(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var result = parseResult.GetResult(Output);
        if (result is null || result.Errors.Any())
        {
            return OutputFormat.Text;
        }

        return parseResult.GetValue(Output) == "json" ? OutputFormat.Json : OutputFormat.Text;
    }

    public bool ReadVerbose(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var result = parseResult.GetResult(Verbose);
        return result is not null && !result.Errors.Any() && parseResult.GetValue(Verbose);
    }
}

/// <summary>The global options of one invocation, as values.</summary>
public sealed record GlobalSettings(
    OutputFormat Output,
    bool Verbose,
    string? CacheDir,
    IReadOnlyList<string> InsecureRegistries,
    string? Platform)
{
    public static GlobalSettings Default { get; } = new(OutputFormat.Text, false, null, [], null);
}
