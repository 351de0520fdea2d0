using Basalt.Platform;

namespace Basalt.Config;

/// <summary>Base of every cloud-config error a user can act on: where, what, and what was expected.</summary>
public abstract class ConfigException : BasaltException
{
    protected ConfigException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}
