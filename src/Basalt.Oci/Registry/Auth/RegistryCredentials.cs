using System.Text;
using System.Text.Json;

namespace Basalt.Oci.Registry.Auth;

/// <summary>A username and password for one registry, and the file they came from (for error messages).</summary>
public sealed record RegistryCredential(string Username, string Password, string Source)
{
    public override string ToString() => $"{Username} from {Source}";

    public string BasicHeaderValue() => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));
}

/// <summary>
/// Finds credentials in the first existing file of: the override, <c>$REGISTRY_AUTH_FILE</c>,
/// <c>$DOCKER_CONFIG/config.json</c>, <c>~/.docker/config.json</c> (docker/podman <c>auths</c> format).
/// Credential helpers (<c>credsStore</c>, <c>credHelpers</c>) are not consulted.
/// </summary>
public sealed class CredentialStore
{
    private static readonly string[] DockerHubAliases = ["docker.io", "index.docker.io", "registry-1.docker.io"];

    private readonly IReadOnlyList<string> _candidates;
    private readonly Lazy<(string? Path, DockerConfigFile? Config)> _loaded;

    public CredentialStore(string? overridePath)
        : this(overridePath is not null ? [overridePath] : DefaultCandidates(Environment.GetEnvironmentVariable))
    {
    }

    internal CredentialStore(IReadOnlyList<string> candidates)
    {
        _candidates = candidates;
        _loaded = new Lazy<(string?, DockerConfigFile?)>(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The files searched, in order, given an environment.</summary>
    public static IReadOnlyList<string> DefaultCandidates(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var candidates = new List<string>();
        if (environment("REGISTRY_AUTH_FILE") is { Length: > 0 } authFile)
        {
            candidates.Add(authFile);
        }

        if (environment("DOCKER_CONFIG") is { Length: > 0 } dockerConfig)
        {
            candidates.Add(Path.Combine(dockerConfig, "config.json"));
        }

        if (environment("HOME") is { Length: > 0 } home)
        {
            candidates.Add(Path.Combine(home, ".docker", "config.json"));
        }

        return candidates;
    }

    /// <summary>Describes where credentials were (or would have been) looked for, for error messages.</summary>
    public string DescribeSources()
    {
        var (path, _) = _loaded.Value;
        return path is not null
            ? path
            : _candidates.Count == 0 ? "no credentials file configured" : $"none found (searched {string.Join(", ", _candidates)})";
    }

    /// <summary>The credential for <paramref name="registry"/>, preferring an entry for the repository path when there is one.</summary>
    public RegistryCredential? Find(string registry, string? repository)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        var (path, config) = _loaded.Value;
        if (path is null || config?.Auths is not { Count: > 0 } auths)
        {
            return null;
        }

        var hosts = DockerHubAliases.Contains(registry, StringComparer.OrdinalIgnoreCase) ? DockerHubAliases : [registry];
        RegistryCredential? best = null;
        var bestLength = -1;
        foreach (var (key, entry) in auths)
        {
            var normalized = NormalizeKey(key);
            foreach (var host in hosts)
            {
                var matches = normalized.Equals(host, StringComparison.OrdinalIgnoreCase)
                    || (repository is not null && (normalized.Equals($"{host}/{repository}", StringComparison.OrdinalIgnoreCase)
                        || $"{host}/{repository}".StartsWith(normalized + "/", StringComparison.OrdinalIgnoreCase)
                            && normalized.StartsWith(host + "/", StringComparison.OrdinalIgnoreCase)));
                if (matches && normalized.Length > bestLength && Decode(entry, path, key) is { } credential)
                {
                    best = credential;
                    bestLength = normalized.Length;
                }
            }
        }

        return best;
    }

    /// <summary><c>https://index.docker.io/v1/</c> → <c>index.docker.io</c>; <c>quay.io/org/repo</c> stays as is.</summary>
    internal static string NormalizeKey(string key)
    {
        var text = key.Trim();
        var hadScheme = false;
        foreach (var scheme in new[] { "https://", "http://" })
        {
            if (text.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                text = text[scheme.Length..];
                hadScheme = true;
            }
        }

        if (hadScheme)
        {
            // A URL names a registry, its path (/v1/, /v2/) is the API, not a repository.
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            text = slash >= 0 ? text[..slash] : text;
        }

        return text.TrimEnd('/');
    }

    private static RegistryCredential? Decode(DockerAuthEntry entry, string path, string key)
    {
        if (!string.IsNullOrEmpty(entry.Auth))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(entry.Auth));
            }
            catch (FormatException ex)
            {
                throw new RegistryAuthFileException(path, $"the 'auth' of '{key}' is not base64", ex);
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new RegistryAuthFileException(path, $"the 'auth' of '{key}' does not decode to user:password");
            }

            return new RegistryCredential(decoded[..colon], decoded[(colon + 1)..], path);
        }

        return !string.IsNullOrEmpty(entry.Username) && entry.Password is not null
            ? new RegistryCredential(entry.Username, entry.Password, path)
            : null;
    }

    private (string? Path, DockerConfigFile? Config) Load()
    {
        foreach (var candidate in _candidates)
        {
            if (!File.Exists(candidate))
            {
                continue;
            }

            try
            {
                using var stream = File.OpenRead(candidate);
                var config = JsonSerializer.Deserialize(stream, RegistryJsonContext.Default.DockerConfigFile);
                return (candidate, config);
            }
            catch (JsonException ex)
            {
                throw new RegistryAuthFileException(candidate, $"not valid JSON: {ex.Message}", ex);
            }
            catch (IOException ex)
            {
                throw new RegistryAuthFileException(candidate, ex.Message, ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new RegistryAuthFileException(candidate, ex.Message, ex);
            }
        }

        return (null, null);
    }
}
