using System.Text.Json.Serialization;

namespace Basalt.Cli.Hosting;

/// <summary>The JSON shape of every error with --output json (written to stderr).</summary>
public sealed record ErrorDocument(
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("hint")] string? Hint);

/// <summary>Source-generated JSON for the CLI's own documents (trim-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(ErrorDocument))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
