using Basalt.Platform;

namespace Basalt.Agent;

/// <summary>Base of every node-lifecycle error a user can act on (install, upgrade, rollback, reset, state).</summary>
public abstract class AgentException : BasaltException
{
    protected AgentException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}
