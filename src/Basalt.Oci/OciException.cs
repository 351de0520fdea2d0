using Basalt.Platform;

namespace Basalt.Oci;

/// <summary>Base of every OCI-engine error a user can cause or act on.</summary>
public abstract class OciException : BasaltException
{
    protected OciException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}

public sealed class InvalidDigestException : OciException
{
    public InvalidDigestException(string? text, string reason)
        : base($"invalid digest '{text}': {reason}")
    {
    }

    public override string Kind => "invalid-digest";
}

/// <summary>Content did not hash to the digest that named it.</summary>
public sealed class DigestMismatchException : OciException
{
    public DigestMismatchException(Model.Digest expected, Model.Digest actual, string what)
        : base($"{what}: digest mismatch, expected {expected} but content hashes to {actual}",
               "the registry or file served corrupted content; nothing was kept, try again")
    {
        Expected = expected;
        Actual = actual;
    }

    public Model.Digest Expected { get; }
    public Model.Digest Actual { get; }
    public override string Kind => "digest-mismatch";
}
