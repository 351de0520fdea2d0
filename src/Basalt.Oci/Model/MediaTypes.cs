namespace Basalt.Oci.Model;

public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string OciLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";

    /// <summary>Docker schema 1 (deprecated, unsupported by Basalt); recognised only to say so clearly.</summary>
    public const string DockerManifestSchema1 = "application/vnd.docker.distribution.manifest.v1+json";

    /// <summary>Signed Docker schema 1 (deprecated, unsupported by Basalt).</summary>
    public const string DockerManifestSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerLayerForeignGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// <summary>What Basalt sends in Accept when it fetches a manifest.</summary>
    public static readonly IReadOnlyList<string> AcceptedManifests = [OciManifest, OciIndex, DockerManifest, DockerManifestList];

    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;
}

/// <summary>How a layer blob is compressed, decided from its media type (or its first bytes).</summary>
public enum LayerCompression
{
    None,
    Gzip,
    Zstd,
}
