using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Basalt.Oci.Model;

namespace Basalt.Oci.Layout;

/// <summary>The <c>oci-layout</c> marker file.</summary>
public sealed record OciLayoutMarker
{
    [JsonPropertyName("imageLayoutVersion")]
    public required string ImageLayoutVersion { get; init; }
}

/// <summary>One image in a `docker save` archive's manifest.json.</summary>
public sealed record DockerArchiveEntry
{
    [JsonPropertyName("Config")]
    public string? Config { get; init; }

    [JsonPropertyName("RepoTags")]
    public IReadOnlyList<string>? RepoTags { get; init; }

    [JsonPropertyName("Layers")]
    public IReadOnlyList<string>? Layers { get; init; }
}

[JsonSourceGenerationOptions(MaxDepth = 32, WriteIndented = false)]
[JsonSerializable(typeof(OciLayoutMarker))]
[JsonSerializable(typeof(List<DockerArchiveEntry>))]
internal sealed partial class LayoutJsonContext : JsonSerializerContext;

internal static class LayoutJson
{
    /// <summary>
    /// OCI documents as Basalt writes them: media types keep their '+' instead of \u002B, as other tools
    /// write them (the default encoder escapes for HTML, which these documents never go into).
    /// </summary>
    public static OciJsonContext Writer { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>Layout metadata files are small; anything larger is not one (and is not read into memory).</summary>
    public const int MaxDocumentBytes = 4 << 20;

    public static T Deserialize<T>(string location, string what, byte[] content, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(content, typeInfo)
                ?? throw new MalformedLayoutException(location, $"{what} is null");
        }
        catch (JsonException exception)
        {
            throw new MalformedLayoutException(location, $"{what} is not valid: {exception.Message}", inner: exception);
        }
    }

    public static ImageIndex ReadIndex(string location, byte[] content)
    {
        var index = Deserialize(location, "index.json", content, OciJsonContext.Default.ImageIndex);
        if (index.SchemaVersion != 2)
        {
            throw new MalformedLayoutException(location, $"index.json has schemaVersion {index.SchemaVersion}, expected 2");
        }

        if (index.Manifests is null)
        {
            throw new MalformedLayoutException(location, "index.json has no 'manifests' list");
        }

        return index;
    }

    public static IReadOnlyList<LayoutManifest> ManifestsOf(ImageIndex index) =>
        [.. index.Manifests.Select(d => new LayoutManifest(d, TagOf(d)))];

    private static string? TagOf(Descriptor descriptor) =>
        descriptor.Annotations is { } annotations && annotations.TryGetValue(LayoutAnnotations.RefName, out var name) ? name : null;

    public static byte[] ReadSmall(Stream stream, string location, string what)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > MaxDocumentBytes)
            {
                throw new MalformedLayoutException(location, $"{what} is larger than {MaxDocumentBytes >> 20} MiB");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
