using Basalt.Platform;

namespace Basalt.Disk;

/// <summary>Base of every disk, partition and filesystem error a user can act on.</summary>
public abstract class DiskException : BasaltException
{
    protected DiskException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}
