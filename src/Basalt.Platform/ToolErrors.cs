namespace Basalt.Platform;

/// <summary>An external program Basalt needs is not installed.</summary>
public sealed class ToolNotFoundException : BasaltException
{
    public ToolNotFoundException(string tool, string? package = null)
        : base($"required tool '{tool}' was not found on PATH",
               package is null ? $"install '{tool}' and try again" : $"install it with: apt-get install {package}")
    {
        Tool = tool;
        Package = package;
    }

    public string Tool { get; }
    public string? Package { get; }
    public override string Kind => "tool-missing";
}

/// <summary>An external program ran and failed; carries its stderr so the user sees why.</summary>
public sealed class ToolFailedException : BasaltException
{
    public ToolFailedException(string commandLine, int exitCode, string standardError)
        : base($"'{commandLine}' failed with exit code {exitCode}" +
               (string.IsNullOrWhiteSpace(standardError) ? string.Empty : $": {Trim(standardError)}"))
    {
        CommandLine = commandLine;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    public string CommandLine { get; }
    public int ExitCode { get; }
    public string StandardError { get; }
    public override string Kind => "tool-failed";

    private static string Trim(string stderr)
    {
        var text = stderr.Trim();
        return text.Length <= 2000 ? text : string.Concat("…", text.AsSpan(text.Length - 2000));
    }
}

/// <summary>A host call (syscall) failed.</summary>
public sealed class HostCallException : BasaltException
{
    public HostCallException(string call, string path, int errno)
        : base($"{call}({path}) failed: {Errno.Describe(errno)}", Errno.HintFor(errno))
    {
        Call = call;
        Path = path;
        ErrorNumber = errno;
    }

    public string Call { get; }
    public string Path { get; }
    public int ErrorNumber { get; }
    public override string Kind => "host-call-failed";
}
