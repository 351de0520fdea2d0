namespace Basalt.Oci.Manifests;

/// <summary>A manifest or index that Basalt will not use: malformed, oversized, unsupported or inconsistent.</summary>
public sealed class InvalidManifestException : OciException
{
    public InvalidManifestException(string reason, string? hint = null, Exception? inner = null)
        : base($"invalid manifest: {reason}", hint, inner)
    {
        Reason = reason;
    }

    public string Reason { get; }

    public override string Kind => "invalid-manifest";
}

/// <summary>An image configuration blob that is malformed, oversized or does not fit its manifest.</summary>
public sealed class InvalidImageConfigException : OciException
{
    public InvalidImageConfigException(string reason, string? hint = null, Exception? inner = null)
        : base($"invalid image config: {reason}", hint, inner)
    {
        Reason = reason;
    }

    public string Reason { get; }

    public override string Kind => "invalid-image-config";
}

/// <summary>An index with no image for the wanted platform.</summary>
public sealed class PlatformNotFoundException : OciException
{
    public PlatformNotFoundException(PlatformSpec wanted, IReadOnlyList<string> offered)
        : base(
            offered.Count == 0
                ? $"the image index has no image for {wanted}; it offers no platform-specific image at all"
                : $"the image index has no image for {wanted}; it offers {string.Join(", ", offered)}",
            offered.Count == 0 ? null : $"choose one of them with --platform, e.g. --platform {offered[0]}")
    {
        Wanted = wanted;
        Offered = offered;
    }

    public PlatformSpec Wanted { get; }

    /// <summary>The platforms the index offers, as <c>os/arch[/variant]</c>, attestations left out.</summary>
    public IReadOnlyList<string> Offered { get; }

    public override string Kind => "platform-not-found";
}

/// <summary>A platform text that is not <c>os/arch[/variant]</c>.</summary>
public sealed class InvalidPlatformException : OciException
{
    public InvalidPlatformException(string? input, string reason)
        : base($"invalid platform '{input}': {reason}", "write it as os/arch[/variant], e.g. linux/amd64, linux/arm64/v8 or linux/arm/v7")
    {
        Input = input;
    }

    public string? Input { get; }

    public override string Kind => "invalid-platform";
}
