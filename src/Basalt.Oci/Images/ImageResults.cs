using Basalt.Oci.Layers;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;

namespace Basalt.Oci.Images;

/// <summary>
/// An image resolved to one platform: the manifest (and the index it was chosen from, if any), its
/// config, and the name it is kept under in the blob store.
/// </summary>
public sealed record ResolvedImage(
    string Name,
    Digest Digest,
    string MediaType,
    long ManifestSize,
    Digest? IndexDigest,
    ImageManifest Manifest,
    ImageConfig Config)
{
    public PlatformSpec Platform => PlatformSpec.Normalize(Config.OS, Config.Architecture, Config.Variant);

    public IReadOnlyList<Descriptor> Layers => Manifest.Layers;

    /// <summary>Bytes of every blob the image consists of (manifest, config, layers).</summary>
    public long TotalSize => ManifestSize + Manifest.Config.Size + Manifest.Layers.Sum(l => l.Size);

    /// <summary>The digest the source names the image by: the index when there is one, else the manifest.</summary>
    public Digest RootDigest => IndexDigest ?? Digest;
}

/// <summary>What a pull did: every blob of <see cref="Image"/> is in the store now.</summary>
public sealed record PullResult(ResolvedImage Image, long BytesTransferred, int BlobsTransferred, int BlobsSkipped);

/// <summary>What an unpack did.</summary>
public sealed record UnpackResult(PullResult Pull, string Target, long EntriesApplied, IReadOnlyList<string> Warnings)
{
    /// <summary>Leading layers that were already in the tree (an unpack onto a kept tree); 0 for a full unpack.</summary>
    public int LayersReused { get; init; }

    /// <summary>Layers applied by this unpack.</summary>
    public int LayersApplied => Pull.Image.Layers.Count - LayersReused;
}

/// <summary>What a push did.</summary>
public sealed record PushResult(string Reference, Digest Digest, Descriptor Layer, Descriptor Config, long ManifestSize);

/// <summary>What a save to an OCI layout did.</summary>
public sealed record SaveResult(ResolvedImage Image, string LayoutPath, string Tag, long BytesWritten);
