using Basalt.Platform;

namespace Basalt.Build;

/// <summary>Base of every image-build error a user can act on.</summary>
public abstract class BuildException : BasaltException
{
    protected BuildException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}
