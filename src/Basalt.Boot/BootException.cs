using Basalt.Platform;

namespace Basalt.Boot;

/// <summary>Base of every bootloader, boot-entry and mount-plan error a user can act on.</summary>
public abstract class BootException : BasaltException
{
    protected BootException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}
