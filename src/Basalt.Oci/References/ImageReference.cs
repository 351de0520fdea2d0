using Basalt.Oci.Model;

namespace Basalt.Oci.References;

/// <summary>
/// A fully-resolved docker-style reference: <c>registry/repository[:tag][@digest]</c>.
/// Defaults (docker.io, library/, latest) are already applied; parse with <c>ImageReference.Parse</c>.
/// </summary>
public sealed partial record ImageReference
{
    public ImageReference(string registry, string repository, string? tag, Digest? digest)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>Host[:port] as written, e.g. <c>docker.io</c>, <c>localhost:5000</c>.</summary>
    public string Registry { get; }

    /// <summary>Path within the registry, e.g. <c>library/debian</c>.</summary>
    public string Repository { get; }

    public string? Tag { get; }

    public Digest? Digest { get; }

    /// <summary>What to ask the registry for: the digest when there is one, else the tag.</summary>
    public string Reference => Digest?.Value ?? Tag ?? "latest";

    /// <summary>The host the distribution API lives at (docker.io is served by registry-1.docker.io).</summary>
    public string ApiHost => Registry == "docker.io" ? "registry-1.docker.io" : Registry;

    public ImageReference WithDigest(Digest digest) => new(Registry, Repository, Tag, digest);

    public ImageReference WithTag(string tag) => new(Registry, Repository, tag, null);

    public override string ToString()
    {
        var text = $"{Registry}/{Repository}";
        if (Tag is not null)
        {
            text += ":" + Tag;
        }

        if (Digest is { } digest)
        {
            text += "@" + digest.Value;
        }

        return text;
    }
}
