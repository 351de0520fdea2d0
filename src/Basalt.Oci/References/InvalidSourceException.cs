namespace Basalt.Oci.References;

/// <summary>An image source text that is neither a known prefix form nor a registry reference.</summary>
public sealed class InvalidSourceException : OciException
{
    public InvalidSourceException(string? input, string reason)
        : base($"invalid image source '{input}': {reason}", "accepted forms: " + ImageSource.AcceptedForms)
    {
        Input = input;
        Reason = reason;
    }

    public string? Input { get; }

    public string Reason { get; }

    public override string Kind => "invalid-source";
}
