namespace Basalt.Config;

/// <summary>A cloud-config file could not be read as YAML: bad syntax, bad encoding, too deep, too big.</summary>
public sealed class ConfigSyntaxException : ConfigException
{
    public ConfigSyntaxException(SourcePosition position, string problem, string? hint = null, Exception? inner = null)
        : base($"{position}: {problem}", hint ?? "Fix the YAML at that position; `basalt config validate FILE` checks a file.", inner)
    {
        Position = position;
        Problem = problem;
    }

    public SourcePosition Position { get; }

    /// <summary>The problem without the position prefix.</summary>
    public string Problem { get; }

    public override string Kind => "config-syntax";
}

/// <summary>A cloud-config file parsed but does not match the schema (with <c>--strict</c>: or carries warnings).</summary>
public sealed class ConfigValidationException : ConfigException
{
    public ConfigValidationException(IReadOnlyList<ConfigIssue> issues)
        : base(Describe(issues), "Fix the listed keys; `basalt config schema` prints what each key expects.")
    {
        Issues = issues;
    }

    public IReadOnlyList<ConfigIssue> Issues { get; }

    public override string Kind => "config-invalid";

    private static string Describe(IReadOnlyList<ConfigIssue> issues)
    {
        ArgumentNullException.ThrowIfNull(issues);
        return issues.Count switch
        {
            0 => "cloud-config is invalid",
            1 => issues[0].ToString(),
            _ => $"{issues.Count} problems in cloud-config:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", issues),
        };
    }
}

/// <summary>A config source (a file, a URL, the kernel command line) could not be fetched or read.</summary>
public sealed class ConfigSourceException : ConfigException
{
    public ConfigSourceException(string source, string problem, string? hint = null, Exception? inner = null)
        : base($"{source}: {problem}", hint, inner)
    {
        Source = source;
    }

    public new string Source { get; }

    public override string Kind => "config-source";
}

/// <summary>How bad a finding is: an error stops the file from being applied, a warning does so only with --strict.</summary>
public enum ConfigIssueSeverity
{
    Warning,
    Error,
}

/// <summary>One finding about a config document, with the position of the offending node and the JSON path to it.</summary>
public sealed record ConfigIssue(ConfigIssueSeverity Severity, SourcePosition Position, string Path, string Message)
{
    public override string ToString() =>
        $"{Position}: {(Severity == ConfigIssueSeverity.Error ? "error" : "warning")}: {Path}: {Message}";
}
