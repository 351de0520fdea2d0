using System.Text.Json;
using Basalt.Oci.Model;

namespace Basalt.Oci.Manifests;

/// <summary>
/// Reads manifest documents (OCI manifest and index, Docker schema2 manifest and manifest list) and
/// rejects anything Basalt should not act on, before a single blob is fetched.
/// </summary>
public static class ManifestParser
{
    /// <summary>
    /// Largest manifest accepted: 4 MiB, the limit the distribution spec lets registries impose and
    /// the one containerd and the reference registry use. A bigger "manifest" is hostile or broken;
    /// callers reading from the network stop reading at this size.
    /// </summary>
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    private const string Schema1Hint =
        "re-push the image with a modern client (docker push, podman push or skopeo copy) so the registry stores a schema 2 or OCI manifest";

    /// <summary>
    /// Parses <paramref name="content"/>. The media type used is <paramref name="declaredMediaType"/>
    /// (a Content-Type header or a descriptor's mediaType) when it names a manifest type, else the
    /// document's own <c>mediaType</c>, else guessed from its shape (<c>manifests</c> → index,
    /// <c>config</c>/<c>layers</c> → manifest). Generic types such as <c>application/json</c> count as
    /// not declared.
    /// </summary>
    /// <exception cref="InvalidManifestException">the document is oversized, malformed, schema 1,
    /// not schemaVersion 2, misses required fields, has invalid descriptors, or declares a media type
    /// that contradicts the one it embeds.</exception>
    public static ManifestDocument Parse(ReadOnlySpan<byte> content, string? declaredMediaType)
    {
        if (content.Length > MaxManifestBytes)
        {
            throw new InvalidManifestException(
                $"it is {content.Length} bytes, larger than the {MaxManifestBytes / (1024 * 1024)} MiB limit for manifests",
                "a manifest this size is not a real image manifest; check the reference points at an image");
        }

        if (content.IsEmpty)
        {
            throw new InvalidManifestException("the document is empty");
        }

        var declared = NormaliseMediaType(declaredMediaType);
        if (declared is MediaTypes.DockerManifestSchema1 or MediaTypes.DockerManifestSchema1Signed)
        {
            throw Schema1();
        }

        if (declared is not null && !MediaTypes.IsIndex(declared) && !MediaTypes.IsManifest(declared))
        {
            throw new InvalidManifestException(
                $"media type '{declared}' is not an image manifest or index",
                $"Basalt reads {string.Join(", ", MediaTypes.AcceptedManifests)}");
        }

        using var document = ParseJson(content);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidManifestException($"the document is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
        }

        var embedded = ReadEmbeddedMediaType(root);
        if (embedded is MediaTypes.DockerManifestSchema1 or MediaTypes.DockerManifestSchema1Signed
            || root.TryGetProperty("fsLayers", out _)
            || (root.TryGetProperty("schemaVersion", out var v1) && v1.ValueKind == JsonValueKind.Number && v1.TryGetInt32(out var n) && n == 1))
        {
            throw Schema1();
        }

        CheckSchemaVersion(root);

        if (declared is not null && embedded is not null && embedded != declared)
        {
            throw new InvalidManifestException(
                $"it was declared as '{declared}' but its mediaType field says '{embedded}'",
                "the registry or layout serves an inconsistent manifest; re-push the image");
        }

        var mediaType = declared ?? embedded ?? Sniff(root);
        if (!MediaTypes.IsIndex(mediaType) && !MediaTypes.IsManifest(mediaType))
        {
            throw new InvalidManifestException(
                $"media type '{mediaType}' is not an image manifest or index",
                $"Basalt reads {string.Join(", ", MediaTypes.AcceptedManifests)}");
        }

        var digest = Digest.Sha256(content);
        if (MediaTypes.IsIndex(mediaType))
        {
            RequireArray(root, "manifests", mediaType);
            var index = Deserialize(content, OciJsonContext.Default.ImageIndex);
            CheckDescriptors(index.Manifests, "manifests");
            return new ImageIndexDocument(index, mediaType, digest, content.Length);
        }

        RequireObject(root, "config", mediaType);
        RequireArray(root, "layers", mediaType);
        var manifest = Deserialize(content, OciJsonContext.Default.ImageManifest);
        CheckDescriptor(manifest.Config, "config");
        CheckDescriptors(manifest.Layers, "layers");
        return new ImageManifestDocument(manifest, mediaType, digest, content.Length);
    }

    /// <summary>
    /// The bare media type of a Content-Type value (parameters dropped, lower case), or null when it
    /// says nothing specific (absent, <c>application/json</c>, <c>text/plain</c>, octet-stream).
    /// </summary>
    public static string? NormaliseMediaType(string? mediaType)
    {
        if (string.IsNullOrWhiteSpace(mediaType))
        {
            return null;
        }

        var semicolon = mediaType.IndexOf(';', StringComparison.Ordinal);
        var bare = (semicolon < 0 ? mediaType : mediaType[..semicolon]).Trim().ToLowerInvariant();
        return bare is "" or "application/json" or "text/plain" or "application/octet-stream" or "binary/octet-stream"
            ? null
            : bare;
    }

    private static InvalidManifestException Schema1() =>
        new("it is a Docker schema 1 manifest, a format deprecated since 2017 that Basalt does not read", Schema1Hint);

    private static JsonDocument ParseJson(ReadOnlySpan<byte> content)
    {
        // Duplicate keys are refused: two "mediaType" or "layers" members could be read differently
        // by Basalt and by the registry or another client, which is how manifest confusion starts.
        var options = new JsonDocumentOptions
        {
            MaxDepth = 64,
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
            AllowDuplicateProperties = false,
        };
        try
        {
            return JsonDocument.Parse(content.ToArray(), options);
        }
        catch (JsonException ex)
        {
            throw new InvalidManifestException($"it is not valid JSON: {ex.Message}", inner: ex);
        }
    }

    private static string? ReadEmbeddedMediaType(JsonElement root)
    {
        if (!root.TryGetProperty("mediaType", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            throw new InvalidManifestException($"its mediaType field is a JSON {element.ValueKind.ToString().ToLowerInvariant()}, not a string");
        }

        return element.GetString()!.Trim().ToLowerInvariant();
    }

    private static void CheckSchemaVersion(JsonElement root)
    {
        if (!root.TryGetProperty("schemaVersion", out var version))
        {
            throw new InvalidManifestException("schemaVersion is missing; OCI and Docker schema 2 documents have \"schemaVersion\": 2");
        }

        if (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var number) || number != 2)
        {
            throw new InvalidManifestException($"schemaVersion is {version.GetRawText()}; only 2 is supported");
        }
    }

    private static string Sniff(JsonElement root)
    {
        if (root.TryGetProperty("manifests", out _))
        {
            return MediaTypes.OciIndex;
        }

        if (root.TryGetProperty("config", out _) || root.TryGetProperty("layers", out _))
        {
            return MediaTypes.OciManifest;
        }

        throw new InvalidManifestException(
            "it has no mediaType and neither 'manifests' (an index) nor 'config' and 'layers' (a manifest)");
    }

    private static void RequireArray(JsonElement root, string property, string mediaType)
    {
        if (!root.TryGetProperty(property, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            throw new InvalidManifestException($"'{property}' is missing, and {Describe(mediaType)} must have it");
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidManifestException($"'{property}' is a JSON {element.ValueKind.ToString().ToLowerInvariant()}, not an array");
        }
    }

    private static void RequireObject(JsonElement root, string property, string mediaType)
    {
        if (!root.TryGetProperty(property, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            throw new InvalidManifestException($"'{property}' is missing, and {Describe(mediaType)} must have it");
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidManifestException($"'{property}' is a JSON {element.ValueKind.ToString().ToLowerInvariant()}, not a descriptor object");
        }
    }

    private static string Describe(string mediaType) => mediaType switch
    {
        MediaTypes.OciIndex => "an OCI image index",
        MediaTypes.DockerManifestList => "a Docker manifest list",
        MediaTypes.DockerManifest => "a Docker schema 2 manifest",
        _ => "an OCI image manifest",
    };

    private static T Deserialize<T>(ReadOnlySpan<byte> content, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(content, typeInfo)
                   ?? throw new InvalidManifestException("the document is JSON null");
        }
        catch (JsonException ex)
        {
            var at = ex.Path is { Length: > 0 } path && !ex.Message.Contains(path, StringComparison.Ordinal) ? $" (at {path})" : string.Empty;
            throw new InvalidManifestException(ex.Message + at, inner: ex);
        }
    }

    private static void CheckDescriptors(IReadOnlyList<Descriptor?> descriptors, string property)
    {
        for (var i = 0; i < descriptors.Count; i++)
        {
            CheckDescriptor(descriptors[i], $"{property}[{i}]");
        }
    }

    private static void CheckDescriptor(Descriptor? descriptor, string where)
    {
        if (descriptor is null)
        {
            throw new InvalidManifestException($"{where} is null, not a descriptor");
        }

        if (string.IsNullOrWhiteSpace(descriptor.MediaType))
        {
            throw new InvalidManifestException($"{where} has no mediaType");
        }

        if (descriptor.Digest.Algorithm is null)
        {
            throw new InvalidManifestException($"{where} has no digest");
        }

        if (descriptor.Size < 0)
        {
            throw new InvalidManifestException($"{where} has a negative size ({descriptor.Size})");
        }

        if (descriptor.Platform is { } platform
            && (string.IsNullOrWhiteSpace(platform.OS) || string.IsNullOrWhiteSpace(platform.Architecture)))
        {
            throw new InvalidManifestException($"{where} has a platform without os or architecture");
        }
    }
}
