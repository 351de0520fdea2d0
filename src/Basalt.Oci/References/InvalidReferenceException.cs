namespace Basalt.Oci.References;

/// <summary>An image reference that does not follow the docker/distribution reference grammar.</summary>
public sealed class InvalidReferenceException : OciException
{
    /// <summary>References that parse, shown with every error so the user sees the shape expected.</summary>
    public const string Examples =
        "write it like debian:bookworm, docker.io/library/debian:bookworm, localhost:5000/basalt/os:v1, " +
        "[::1]:5000/os:v1 or ghcr.io/org/image@sha256:<64 hex digits>";

    public InvalidReferenceException(string? input, string reason)
        : base($"invalid image reference '{input}': {reason}", Examples)
    {
        Input = input;
        Reason = reason;
    }

    /// <summary>The text as the user wrote it.</summary>
    public string? Input { get; }

    /// <summary>What is wrong with it, without the input or the examples.</summary>
    public string Reason { get; }

    public override string Kind => "invalid-reference";
}
