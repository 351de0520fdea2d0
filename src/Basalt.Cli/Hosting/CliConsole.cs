using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Basalt.Cli.Hosting;

/// <summary>
/// Where a command writes: results to stdout (text or JSON), diagnostics and progress to stderr,
/// so `basalt … --output json | jq` always sees clean JSON.
/// </summary>
public sealed class CliConsole
{
    public CliConsole(TextWriter output, TextWriter error, OutputFormat format, bool verbose, CliEnvironment environment)
    {
        Output = output;
        Error = error;
        Format = format;
        Verbose = verbose;
        Environment = environment;
    }

    public TextWriter Output { get; }
    public TextWriter Error { get; }
    public OutputFormat Format { get; }
    public bool Verbose { get; }
    public CliEnvironment Environment { get; }

    public bool IsJson => Format == OutputFormat.Json;

    /// <summary>Live progress bars only on a terminal and never in JSON mode.</summary>
    public bool LiveProgress => Environment.ErrorIsTerminal && !IsJson;

    public void WriteJson<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        Output.WriteLine(JsonSerializer.Serialize(value, typeInfo));
    }

    /// <summary>A line on stdout in text mode; nothing in JSON mode (the JSON document is the whole output).</summary>
    public void WriteText(string line)
    {
        if (!IsJson)
        {
            Output.WriteLine(line);
        }
    }

    /// <summary>A diagnostic on stderr, shown with --verbose only.</summary>
    public void Trace(string line)
    {
        if (Verbose)
        {
            Error.WriteLine(line);
        }
    }
}
