using System.Text.Json;
using System.Text.Json.Serialization;

namespace Basalt.Oci.Registry;

/// <summary>A token service's answer (docker token spec: <c>token</c>, OAuth2: <c>access_token</c>).</summary>
internal sealed record TokenResponse
{
    [JsonPropertyName("token")]
    public string? Token { get; init; }

    [JsonPropertyName("access_token")]
    public string? AccessToken { get; init; }

    [JsonPropertyName("expires_in")]
    public long? ExpiresIn { get; init; }

    [JsonPropertyName("issued_at")]
    public DateTimeOffset? IssuedAt { get; init; }
}

internal sealed record RegistryErrorList
{
    [JsonPropertyName("errors")]
    public IReadOnlyList<RegistryError>? Errors { get; init; }
}

internal sealed record RegistryError
{
    [JsonPropertyName("code")]
    public string? Code { get; init; }

    [JsonPropertyName("message")]
    public string? Message { get; init; }

    [JsonPropertyName("detail")]
    public JsonElement? Detail { get; init; }
}

internal sealed record TagList
{
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    [JsonPropertyName("tags")]
    public IReadOnlyList<string>? Tags { get; init; }
}

/// <summary>docker's config.json / podman's auth.json: only the <c>auths</c> map matters here.</summary>
internal sealed record DockerConfigFile
{
    [JsonPropertyName("auths")]
    public Dictionary<string, DockerAuthEntry>? Auths { get; init; }
}

internal sealed record DockerAuthEntry
{
    [JsonPropertyName("auth")]
    public string? Auth { get; init; }

    [JsonPropertyName("username")]
    public string? Username { get; init; }

    [JsonPropertyName("password")]
    public string? Password { get; init; }
}

internal sealed record ManifestMediaTypeProbe
{
    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }
}

[JsonSourceGenerationOptions(AllowTrailingCommas = true, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(RegistryErrorList))]
[JsonSerializable(typeof(TagList))]
[JsonSerializable(typeof(DockerConfigFile))]
[JsonSerializable(typeof(ManifestMediaTypeProbe))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
