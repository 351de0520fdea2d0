using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Basalt.Oci.Model;

namespace Basalt.Oci.Layout;

/// <summary>Opens an image tar: an OCI layout tar, or a `docker save` archive (told apart by their files).</summary>
public static class ImageArchive
{
    public static IImageLayout Open(string tarPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(tarPath);
        var index = TarFileIndex.Build(tarPath);
        if (index.Contains("oci-layout") || index.Contains("index.json"))
        {
            if (!index.Contains("manifest.json") || (index.Contains("oci-layout") && index.Contains("index.json")))
            {
                return OciLayoutArchive.Open(index);
            }
        }

        if (index.Contains("manifest.json"))
        {
            return DockerArchive.Open(index);
        }

        throw new MalformedLayoutException(
            tarPath,
            "neither an OCI layout tar (no oci-layout and index.json) nor a docker archive (no manifest.json)");
    }
}

/// <summary>An OCI image layout packed in a tar; blobs are streamed from the tar without extracting it.</summary>
public sealed class OciLayoutArchive : IImageLayout
{
    private readonly TarFileIndex _tar;

    private OciLayoutArchive(TarFileIndex tar, IReadOnlyList<LayoutManifest> manifests)
    {
        _tar = tar;
        Manifests = manifests;
    }

    public string Location => _tar.Path;

    public IReadOnlyList<LayoutManifest> Manifests { get; }

    internal static OciLayoutArchive Open(TarFileIndex tar)
    {
        if (!tar.Contains("oci-layout"))
        {
            throw new MalformedLayoutException(tar.Path, "not an OCI image layout tar (no 'oci-layout' file)");
        }

        if (!tar.Contains("index.json"))
        {
            throw new MalformedLayoutException(tar.Path, "index.json is missing");
        }

        using (var marker = tar.Open("oci-layout"))
        {
            OciLayoutDirectory.CheckMarkerBytes(tar.Path, LayoutJson.ReadSmall(marker, tar.Path, "oci-layout"));
        }

        using var indexStream = tar.Open("index.json");
        var index = LayoutJson.ReadIndex(tar.Path, LayoutJson.ReadSmall(indexStream, tar.Path, "index.json"));
        return new OciLayoutArchive(tar, LayoutJson.ManifestsOf(index));
    }

    public LayoutManifest Resolve(string? tag) => TagResolution.Resolve(Location, Manifests, tag);

    public bool ContainsBlob(Digest digest) => _tar.Contains(BlobName(digest));

    public Stream OpenBlob(Digest digest) =>
        ContainsBlob(digest) ? _tar.Open(BlobName(digest)) : throw new LayoutBlobMissingException(Location, $"blob {digest}");

    public void Dispose()
    {
    }

    private static string BlobName(Digest digest) => $"blobs/{digest.Algorithm}/{digest.Hex}";
}

/// <summary>
/// A `docker save` archive (manifest.json, a config file and a tar per layer). Basalt presents each image
/// in it as an OCI manifest it synthesises: config and layer digests are computed from the archive's
/// files (layers are usually uncompressed tars, so a layer's digest is also its diff id).
/// </summary>
public sealed partial class DockerArchive : IImageLayout
{
    private readonly TarFileIndex _tar;
    private readonly Dictionary<Digest, string> _members;
    private readonly Dictionary<Digest, byte[]> _synthesized;

    private DockerArchive(TarFileIndex tar, IReadOnlyList<LayoutManifest> manifests, Dictionary<Digest, string> members, Dictionary<Digest, byte[]> synthesized)
    {
        _tar = tar;
        Manifests = manifests;
        _members = members;
        _synthesized = synthesized;
    }

    public string Location => _tar.Path;

    public IReadOnlyList<LayoutManifest> Manifests { get; }

    internal static DockerArchive Open(TarFileIndex tar)
    {
        List<DockerArchiveEntry> entries;
        using (var stream = tar.Open("manifest.json"))
        {
            entries = LayoutJson.Deserialize(tar.Path, "manifest.json", LayoutJson.ReadSmall(stream, tar.Path, "manifest.json"), LayoutJsonContext.Default.ListDockerArchiveEntry);
        }

        if (entries.Count == 0)
        {
            throw new MalformedLayoutException(tar.Path, "manifest.json lists no images");
        }

        var members = new Dictionary<Digest, string>();
        var synthesized = new Dictionary<Digest, byte[]>();
        var manifests = new List<LayoutManifest>();
        foreach (var (entry, position) in entries.Select((e, i) => (e, i)))
        {
            if (string.IsNullOrEmpty(entry.Config) || entry.Layers is null)
            {
                throw new MalformedLayoutException(tar.Path, $"manifest.json image #{position + 1} has no Config or no Layers");
            }

            var configName = Member(tar, entry.Config, "config");
            byte[] configBytes;
            using (var configStream = tar.Open(configName))
            {
                configBytes = LayoutJson.ReadSmall(configStream, tar.Path, configName);
            }

            var config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Sha256(configBytes), Size = configBytes.LongLength };
            synthesized[config.Digest] = configBytes;

            var layers = new List<Descriptor>();
            foreach (var layer in entry.Layers)
            {
                var layerName = Member(tar, layer, "layer");
                var descriptor = DescribeLayer(tar, layerName);
                members[descriptor.Digest] = layerName;
                layers.Add(descriptor);
            }

            var manifest = new ImageManifest { SchemaVersion = 2, MediaType = MediaTypes.OciManifest, Config = config, Layers = layers };
            var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, LayoutJson.Writer.ImageManifest);
            var manifestDescriptor = new Descriptor { MediaType = MediaTypes.OciManifest, Digest = Digest.Sha256(manifestBytes), Size = manifestBytes.LongLength };
            synthesized[manifestDescriptor.Digest] = manifestBytes;

            if (entry.RepoTags is { Count: > 0 } tags)
            {
                manifests.AddRange(tags.Select(tag => new LayoutManifest(manifestDescriptor, tag)));
            }
            else
            {
                manifests.Add(new LayoutManifest(manifestDescriptor, null));
            }
        }

        return new DockerArchive(tar, manifests, members, synthesized);
    }

    public LayoutManifest Resolve(string? tag) => TagResolution.Resolve(Location, Manifests, tag);

    public bool ContainsBlob(Digest digest) => _synthesized.ContainsKey(digest) || _members.ContainsKey(digest);

    public Stream OpenBlob(Digest digest)
    {
        if (_synthesized.TryGetValue(digest, out var bytes))
        {
            return new MemoryStream(bytes, writable: false);
        }

        return _members.TryGetValue(digest, out var name)
            ? _tar.Open(name)
            : throw new LayoutBlobMissingException(Location, $"blob {digest}");
    }

    public void Dispose()
    {
    }

    private static string Member(TarFileIndex tar, string name, string what)
    {
        var normalized = TarFileIndex.NormalizeName(tar.Path, name);
        return tar.Contains(normalized)
            ? normalized
            : throw new LayoutBlobMissingException(tar.Path, $"{what} '{name}' named by manifest.json (not in the tar)");
    }

    /// <summary>
    /// Newer docker archives store layers as <c>blobs/sha256/HEX</c>; the name is the digest (it is verified
    /// when the blob is copied). Older ones use <c>ID/layer.tar</c>; their digest is computed here, streaming.
    /// </summary>
    private static Descriptor DescribeLayer(TarFileIndex tar, string name)
    {
        using var stream = tar.Open(name);
        Span<byte> magic = stackalloc byte[4];
        var peeked = stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        var mediaType = peeked >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? MediaTypes.OciLayerGzip
            : peeked == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd ? MediaTypes.OciLayerZstd
            : MediaTypes.OciLayer;

        var named = BlobName().Match(name);
        Digest digest;
        if (named.Success)
        {
            digest = Digest.Parse($"sha256:{named.Groups[1].Value}");
        }
        else
        {
            stream.Position = 0;
            digest = Digest.FromHash("sha256", SHA256.HashData(stream));
        }

        return new Descriptor { MediaType = mediaType, Digest = digest, Size = stream.Length };
    }

    [GeneratedRegex("^blobs/sha256/([0-9a-f]{64})$")]
    private static partial Regex BlobName();
}
