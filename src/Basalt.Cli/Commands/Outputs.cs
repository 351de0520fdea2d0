using System.Text.Json.Serialization;
using Basalt.Oci.Images;
using Basalt.Oci.Model;

namespace Basalt.Cli.Commands;

/// <summary>One layer as `image inspect` and `pull` report it.</summary>
public sealed record LayerOutput(string Digest, string MediaType, long Size, string? DiffId);

/// <summary>The JSON document of `basalt image inspect`.</summary>
public sealed record InspectOutput(
    string Name,
    string Digest,
    string? IndexDigest,
    string MediaType,
    string Platform,
    DateTimeOffset? Created,
    long Size,
    IReadOnlyList<LayerOutput> Layers,
    ImageManifest Manifest,
    ImageConfig Config)
{
    public static InspectOutput From(ResolvedImage image) => new(
        image.Name,
        image.Digest.Value,
        image.IndexDigest?.Value,
        image.MediaType,
        image.Platform.ToString(),
        image.Config.Created,
        image.TotalSize,
        LayersOf(image),
        image.Manifest,
        image.Config);

    public static IReadOnlyList<LayerOutput> LayersOf(ResolvedImage image) =>
        [.. image.Layers.Select((layer, i) => new LayerOutput(
            layer.Digest.Value,
            layer.MediaType,
            layer.Size,
            i < image.Config.RootFs.DiffIds.Count ? image.Config.RootFs.DiffIds[i].Value : null))];
}

/// <summary>The JSON document of `basalt pull`.</summary>
public sealed record PullOutput(
    string Name,
    string Digest,
    string? IndexDigest,
    string Platform,
    long Size,
    IReadOnlyList<LayerOutput> Layers,
    long BytesTransferred,
    int BlobsTransferred,
    int BlobsSkipped)
{
    public static PullOutput From(PullResult pull) => new(
        pull.Image.Name,
        pull.Image.Digest.Value,
        pull.Image.IndexDigest?.Value,
        pull.Image.Platform.ToString(),
        pull.Image.TotalSize,
        InspectOutput.LayersOf(pull.Image),
        pull.BytesTransferred,
        pull.BlobsTransferred,
        pull.BlobsSkipped);
}

/// <summary>The JSON document of `basalt image unpack`.</summary>
public sealed record UnpackOutput(string Name, string Digest, string Target, long Entries, long BytesTransferred, IReadOnlyList<string> Warnings);

/// <summary>The JSON document of `basalt push`.</summary>
public sealed record PushOutput(string Reference, string Digest, string LayerDigest, long LayerSize, string ConfigDigest);

/// <summary>The JSON document of `basalt image save`.</summary>
public sealed record SaveOutput(string Name, string Digest, string Layout, string Tag, long BytesWritten);

public sealed record CacheReferenceOutput(string Name, string Digest);

public sealed record CacheBlobOutput(string Digest, long Size, DateTimeOffset LastUsed);

/// <summary>The JSON document of `basalt cache ls`.</summary>
public sealed record CacheListOutput(string Root, IReadOnlyList<CacheReferenceOutput> References, IReadOnlyList<CacheBlobOutput> Blobs, long TotalSize);

/// <summary>The JSON document of `basalt cache prune`.</summary>
public sealed record CachePruneOutput(IReadOnlyList<string> RemovedBlobs, IReadOnlyList<string> RemovedReferences, int RemovedPartials, long BytesFreed);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(InspectOutput))]
[JsonSerializable(typeof(PullOutput))]
[JsonSerializable(typeof(UnpackOutput))]
[JsonSerializable(typeof(PushOutput))]
[JsonSerializable(typeof(SaveOutput))]
[JsonSerializable(typeof(CacheListOutput))]
[JsonSerializable(typeof(CachePruneOutput))]
internal sealed partial class CommandJsonContext : JsonSerializerContext;
