using Basalt.Oci.Model;

namespace Basalt.Oci.Layout;

/// <summary>A manifest (or index) an image layout lists at its top level, with the tag it carries if any.</summary>
public sealed record LayoutManifest(Descriptor Descriptor, string? Tag);

/// <summary>
/// A local, content-addressed set of images: an OCI layout directory, an OCI layout tar, or a
/// `docker save` tar. Blobs are streamed; nothing is extracted to read them.
/// </summary>
public interface IImageLayout : IDisposable
{
    /// <summary>Where the layout is, as the user named it (for messages).</summary>
    string Location { get; }

    /// <summary>The top-level manifests, in the order the layout lists them.</summary>
    IReadOnlyList<LayoutManifest> Manifests { get; }

    /// <summary>
    /// The manifest tagged <paramref name="tag"/>; without a tag, the only manifest, or the one tagged
    /// <c>latest</c>. Throws <see cref="LayoutTagNotFoundException"/> listing the tags present.
    /// </summary>
    LayoutManifest Resolve(string? tag);

    bool ContainsBlob(Digest digest);

    /// <summary>Opens a blob for reading; the caller verifies the digest while it copies.</summary>
    Stream OpenBlob(Digest digest);
}

/// <summary>Annotation keys image layouts use for names.</summary>
public static class LayoutAnnotations
{
    public const string RefName = "org.opencontainers.image.ref.name";
    public const string ContainerdImageName = "io.containerd.image.name";
}
