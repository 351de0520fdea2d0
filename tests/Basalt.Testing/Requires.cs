using Basalt.Platform;

namespace Basalt.Testing;

/// <summary>
/// Preconditions of integration and end-to-end tests. A missing precondition fails the test with a
/// message that says what to install; it never lets the test pass silently.
/// </summary>
public static class Requires
{
    private static readonly ToolRunner Runner = new();

    /// <summary>Fails unless <paramref name="tool"/> is on PATH; returns its full path.</summary>
    public static string Tool(string tool, string package)
    {
        var path = Runner.Locate(tool);
        if (path is null)
        {
            throw new RequirementMissingException($"this test needs '{tool}': apt-get install -y {package} (.ci/run installs it)");
        }

        return path;
    }

    public static void Root()
    {
        if (!Posix.IsRoot)
        {
            throw new RequirementMissingException("this test needs root (loop devices, mounts, device nodes, chown): run the suite as root");
        }
    }
}

public sealed class RequirementMissingException : Exception
{
    public RequirementMissingException(string message)
        : base(message)
    {
    }
}
