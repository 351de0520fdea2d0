namespace Basalt.Platform;

/// <summary>
/// An error the user can act on: bad input, a missing tool, no space. The CLI prints
/// <see cref="Exception.Message"/> and <see cref="Hint"/> without a stack trace and exits 1.
/// Every subsystem derives its own typed errors from this one.
/// </summary>
public abstract class BasaltException : Exception
{
    protected BasaltException(string message, string? hint = null, Exception? inner = null)
        : base(message, inner)
    {
        Hint = hint;
    }

    /// <summary>What the user can do about it, when there is something to say.</summary>
    public string? Hint { get; }

    /// <summary>A short, stable machine-readable kind, used by <c>--output json</c>.</summary>
    public abstract string Kind { get; }
}
