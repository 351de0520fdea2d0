using Basalt.Oci.Model;

namespace Basalt.Oci.Manifests;

/// <summary>
/// A parsed and validated manifest document: an image manifest (<see cref="ImageManifestDocument"/>)
/// or an index (<see cref="ImageIndexDocument"/>), with the media type it was read as and the digest
/// of its exact bytes (which is what a registry names it by).
/// </summary>
public abstract record ManifestDocument
{
    private protected ManifestDocument(string mediaType, Digest digest, long size)
    {
        MediaType = mediaType;
        Digest = digest;
        Size = size;
    }

    /// <summary>One of <see cref="MediaTypes.AcceptedManifests"/>.</summary>
    public string MediaType { get; }

    /// <summary>sha256 of the exact bytes parsed.</summary>
    public Digest Digest { get; }

    public long Size { get; }

    public bool IsIndex => this is ImageIndexDocument;

    /// <summary>A descriptor pointing at this document, e.g. for an OCI layout's index.json.</summary>
    public Descriptor ToDescriptor() => new() { MediaType = MediaType, Digest = Digest, Size = Size };
}

/// <summary>An OCI image manifest or a Docker schema2 manifest.</summary>
public sealed record ImageManifestDocument : ManifestDocument
{
    public ImageManifestDocument(ImageManifest manifest, string mediaType, Digest digest, long size)
        : base(mediaType, digest, size)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        Manifest = manifest;
    }

    public ImageManifest Manifest { get; }
}

/// <summary>An OCI image index or a Docker manifest list.</summary>
public sealed record ImageIndexDocument : ManifestDocument
{
    public ImageIndexDocument(ImageIndex index, string mediaType, Digest digest, long size)
        : base(mediaType, digest, size)
    {
        ArgumentNullException.ThrowIfNull(index);
        Index = index;
    }

    public ImageIndex Index { get; }
}
