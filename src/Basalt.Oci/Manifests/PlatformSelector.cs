using Basalt.Oci.Model;

namespace Basalt.Oci.Manifests;

/// <summary>Picks the image manifest for one platform out of an index or manifest list.</summary>
public static class PlatformSelector
{
    /// <summary>The annotation BuildKit puts on attestation (SBOM, provenance) manifests in an index.</summary>
    public const string DockerReferenceTypeAnnotation = "vnd.docker.reference.type";

    /// <summary>
    /// The manifest descriptor that best fits <paramref name="wanted"/>: an exact variant first, then
    /// the newest older variant the platform still runs; among equals, the first in the index.
    /// Attestation manifests (platform unknown/unknown or a <c>vnd.docker.reference.type</c>
    /// annotation), entries without a platform and nested indexes are never chosen.
    /// </summary>
    /// <exception cref="PlatformNotFoundException">nothing fits; it lists what the index offers.</exception>
    public static Descriptor Select(ImageIndex index, PlatformSpec wanted)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(wanted);
        Descriptor? best = null;
        var bestRank = int.MaxValue;
        foreach (var (descriptor, platform) in Candidates(index))
        {
            if (wanted.MatchRank(platform) is { } rank && rank < bestRank)
            {
                best = descriptor;
                bestRank = rank;
            }
        }

        return best ?? throw new PlatformNotFoundException(wanted, OfferedPlatforms(index));
    }

    /// <summary>The platforms an index offers, normalised, in index order, without duplicates or attestations.</summary>
    public static IReadOnlyList<string> OfferedPlatforms(ImageIndex index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return Candidates(index).Select(c => c.Platform.ToString()).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>True for the attestation manifests BuildKit adds beside the real images.</summary>
    public static bool IsAttestation(Descriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.Annotations?.ContainsKey(DockerReferenceTypeAnnotation) == true)
        {
            return true;
        }

        return descriptor.Platform is { OS: "unknown", Architecture: "unknown" };
    }

    private static IEnumerable<(Descriptor Descriptor, PlatformSpec Platform)> Candidates(ImageIndex index) =>
        index.Manifests
            .Where(d => d.Platform is not null && MediaTypes.IsManifest(d.MediaType) && !IsAttestation(d))
            .Select(d => (d, PlatformSpec.From(d.Platform!)));
}
