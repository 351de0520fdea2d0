using System.Text.Json.Serialization;

namespace Basalt.Oci.Model;

/// <summary>
/// Source-generated JSON for every OCI document Basalt reads or writes (trim-safe). Duplicate keys
/// are refused: a document two parsers could read differently is not one Basalt acts on.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    AllowTrailingCommas = false,
    AllowDuplicateProperties = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow,
    MaxDepth = 64)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(Descriptor))]
[JsonSerializable(typeof(OciPlatform))]
public sealed partial class OciJsonContext : JsonSerializerContext;
