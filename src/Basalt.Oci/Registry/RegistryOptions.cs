namespace Basalt.Oci.Registry;

/// <summary>How a <see cref="RegistryClient"/> talks to registries.</summary>
public sealed record RegistryOptions
{
    /// <summary>Registries (<c>host</c> or <c>host:port</c>) reached over plain http; loopback registries always are.</summary>
    public IReadOnlySet<string> InsecureRegistries { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The credentials file to use instead of <c>$REGISTRY_AUTH_FILE</c>, <c>$DOCKER_CONFIG/config.json</c>
    /// and <c>~/.docker/config.json</c>. When set, only this file is read (a missing file means no credentials).
    /// </summary>
    public string? AuthFilePath { get; init; }

    /// <summary>Attempts per request (and per blob download) before a transient failure is reported.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Delay before the first retry; doubled at every further attempt (capped at 30 s).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Bytes per PATCH of a chunked upload.</summary>
    public long ChunkSize { get; init; } = 16L * 1024 * 1024;

    /// <summary>Blobs up to this size are pushed with one PUT; bigger ones are pushed in chunks.</summary>
    public long MonolithicLimit { get; init; } = 64L * 1024 * 1024;

    /// <summary>Time allowed for response headers, and for each read of a response body (a stall, not a total).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}
