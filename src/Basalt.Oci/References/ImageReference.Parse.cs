using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using Basalt.Oci.Model;

namespace Basalt.Oci.References;

/// <summary>
/// The parser of docker-style references, following the docker/distribution reference grammar
/// (github.com/distribution/reference, <c>ParseNormalizedNamed</c>):
/// <code>
/// reference  := name [ ":" tag ] [ "@" digest ]
/// name       := [domain "/"] path
/// domain     := host [":" port]          host := domain-name | "[" ipv6 "]"
/// path       := component ("/" component)*
/// component  := [a-z0-9]+ (separator [a-z0-9]+)*      separator := "." | "_" | "__" | "-"+
/// tag        := [\w][\w.-]{0,127}
/// </code>
/// The first path segment is a registry when it contains '.' or ':', is <c>localhost</c>, or has an
/// upper-case letter (repository names are lower-case only, so it cannot be one). Defaults: registry
/// <c>docker.io</c> (also for <c>index.docker.io</c> and <c>registry-1.docker.io</c>), <c>library/</c>
/// before a single-segment docker.io name, tag <c>latest</c> when neither tag nor digest is given.
/// Two deliberate tightenings: digests must be sha256 or sha512 (what Basalt can verify), and a port
/// must be 1–65535.
/// </summary>
public sealed partial record ImageReference
{
    public const string DefaultRegistry = "docker.io";
    public const string DefaultTag = "latest";
    public const string OfficialRepositoryPrefix = "library/";

    /// <summary>Longest <c>registry/repository</c> the distribution grammar allows.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Longest tag the distribution grammar allows.</summary>
    public const int MaxTagLength = 128;

    /// <summary>The registry host without port or IPv6 brackets, e.g. <c>localhost</c>, <c>::1</c>.</summary>
    public string RegistryHost => SplitRegistry(Registry).Host;

    /// <summary>The registry port when one was written, e.g. 5000 in <c>localhost:5000</c>.</summary>
    public int? RegistryPort => SplitRegistry(Registry).Port;

    /// <summary><c>registry/repository</c>, without tag or digest.</summary>
    public string Name => $"{Registry}/{Repository}";

    /// <summary>
    /// True when the registry is on this machine (<c>localhost</c>, 127.0.0.0/8, ::1): the only
    /// registries Basalt talks plain http to without being told they are insecure.
    /// </summary>
    public bool IsLoopback
    {
        get
        {
            var host = RegistryHost;
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address);
        }
    }

    public static ImageReference Parse(string text)
    {
        if (!TryParse(text, out var reference, out var error))
        {
            throw new InvalidReferenceException(text, error);
        }

        return reference;
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out ImageReference? reference) =>
        TryParse(text, out reference, out _);

    public static bool TryParse(
        [NotNullWhen(true)] string? text,
        [NotNullWhen(true)] out ImageReference? reference,
        out string error)
    {
        reference = null;
        error = Validate(text, out var registry, out var repository, out var tag, out var digest) ?? string.Empty;
        if (error.Length > 0)
        {
            return false;
        }

        reference = new ImageReference(registry!, repository!, tag, digest);
        return true;
    }

    /// <summary>Returns null when <paramref name="text"/> is valid, else what is wrong with it.</summary>
    private static string? Validate(
        string? text,
        out string? registry,
        out string? repository,
        out string? tag,
        out Digest? digest)
    {
        registry = null;
        repository = null;
        tag = null;
        digest = null;
        if (string.IsNullOrEmpty(text))
        {
            return "the reference is empty";
        }

        if (text.Any(char.IsWhiteSpace))
        {
            return "it contains white space";
        }

        if (text.Length == 64 && text.All(IsLowerHex))
        {
            return "a 64-character hex string is an image ID, not a repository name; to pin content write NAME@sha256:<hex>";
        }

        var rest = text;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            var digestText = rest[(at + 1)..];
            if (!Model.Digest.TryParse(digestText, out var parsed, out var digestError))
            {
                return $"digest '{digestText}' is invalid: {digestError}";
            }

            digest = parsed;
            rest = rest[..at];
        }

        var lastColon = rest.LastIndexOf(':');
        if (lastColon > rest.LastIndexOf('/'))
        {
            tag = rest[(lastColon + 1)..];
            rest = rest[..lastColon];
            if (ValidateTag(tag) is { } tagError)
            {
                return tagError;
            }
        }

        if (rest.Length == 0)
        {
            return "the repository name is missing";
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? rest : rest[..slash];
        string path;
        if (slash >= 0 && LooksLikeRegistry(first))
        {
            if (ValidateRegistry(first) is { } registryError)
            {
                return registryError;
            }

            registry = NormaliseRegistry(first);
            path = rest[(slash + 1)..];
        }
        else
        {
            registry = DefaultRegistry;
            path = rest;
        }

        if (path.Length == 0)
        {
            return $"the repository name after registry '{registry}' is missing";
        }

        if (registry == DefaultRegistry && !path.Contains('/', StringComparison.Ordinal))
        {
            path = OfficialRepositoryPrefix + path;
        }

        if (ValidatePath(path) is { } pathError)
        {
            return pathError;
        }

        var nameLength = registry.Length + 1 + path.Length;
        if (nameLength > MaxNameLength)
        {
            return $"the name '{registry}/{path}' is {nameLength} characters; at most {MaxNameLength} are allowed";
        }

        repository = path;
        if (tag is null && digest is null)
        {
            tag = DefaultTag;
        }

        return null;
    }

    private static bool LooksLikeRegistry(string first) =>
        first.Contains('.', StringComparison.Ordinal)
        || first.Contains(':', StringComparison.Ordinal)
        || first == "localhost"
        || first.Any(char.IsAsciiLetterUpper);

    private static string NormaliseRegistry(string registry) =>
        registry.ToLowerInvariant() is "docker.io" or "index.docker.io" or "registry-1.docker.io"
            ? DefaultRegistry
            : registry;

    private static string? ValidateTag(string tag)
    {
        if (tag.Length == 0)
        {
            return "the tag after ':' is empty; leave out the ':' to get 'latest'";
        }

        if (tag.Length > MaxTagLength)
        {
            return $"the tag is {tag.Length} characters; at most {MaxTagLength} are allowed";
        }

        if (!IsWordChar(tag[0]))
        {
            return $"tag '{tag}' must start with a letter, a digit or '_'";
        }

        foreach (var c in tag)
        {
            if (!IsWordChar(c) && c is not '.' and not '-')
            {
                return $"tag '{tag}' contains '{c}'; tags may contain only letters, digits, '_', '.' and '-'";
            }
        }

        return null;
    }

    private static string? ValidateRegistry(string registry)
    {
        string host;
        string? port;
        if (registry.StartsWith('['))
        {
            var close = registry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return $"registry '{registry}' opens an IPv6 address with '[' but never closes it with ']'";
            }

            host = registry[1..close];
            if (host.Length == 0 || !host.All(c => char.IsAsciiHexDigit(c) || c == ':'))
            {
                return $"registry '{registry}': '{host}' is not an IPv6 address (hex digits and ':' only)";
            }

            var after = registry[(close + 1)..];
            if (after.Length > 0 && after[0] != ':')
            {
                return $"registry '{registry}': only ':PORT' may follow the IPv6 address";
            }

            port = after.Length > 0 ? after[1..] : null;
        }
        else
        {
            var colon = registry.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? registry : registry[..colon];
            port = colon < 0 ? null : registry[(colon + 1)..];
            if (host.Length == 0)
            {
                return $"registry '{registry}' has no host name";
            }

            foreach (var label in host.Split('.'))
            {
                if (label.Length == 0)
                {
                    return $"registry host '{host}' has an empty label between dots";
                }

                if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                {
                    return $"registry host '{host}' may contain only letters, digits, '-' and '.'";
                }

                if (label[0] == '-' || label[^1] == '-')
                {
                    return $"registry host '{host}': a label may not start or end with '-'";
                }
            }
        }

        if (port is not null)
        {
            if (port.Length == 0 || !port.All(char.IsAsciiDigit))
            {
                return $"registry '{registry}': the port must be a number, e.g. localhost:5000";
            }

            if (port.Length > 5 || int.Parse(port, CultureInfo.InvariantCulture) is < 1 or > 65535)
            {
                return $"registry '{registry}': port {port} is outside 1-65535";
            }
        }

        return null;
    }

    private static string? ValidatePath(string path)
    {
        foreach (var component in path.Split('/'))
        {
            if (component.Length == 0)
            {
                return $"repository '{path}' has an empty path component (a leading, trailing or doubled '/')";
            }

            if (component.Any(char.IsAsciiLetterUpper))
            {
                return $"repository '{path}' must be lowercase, e.g. '{path.ToLowerInvariant()}'";
            }

            if (ValidateComponent(component) is { } componentError)
            {
                return $"repository component '{component}' {componentError}";
            }
        }

        return null;
    }

    private static string? ValidateComponent(string component)
    {
        foreach (var c in component)
        {
            if (!IsLowerAlphaNumeric(c) && c is not '.' and not '_' and not '-')
            {
                return $"contains '{c}'; only lowercase letters, digits and the separators '.', '_', '__', '-' are allowed";
            }
        }

        if (!IsLowerAlphaNumeric(component[0]) || !IsLowerAlphaNumeric(component[^1]))
        {
            return "must start and end with a lowercase letter or a digit";
        }

        var i = 0;
        while (i < component.Length)
        {
            if (IsLowerAlphaNumeric(component[i]))
            {
                i++;
                continue;
            }

            var start = i;
            while (i < component.Length && !IsLowerAlphaNumeric(component[i]))
            {
                i++;
            }

            var separator = component[start..i];
            var allowed = separator is "." or "_" or "__" || separator.All(c => c == '-');
            if (!allowed)
            {
                return $"has the separator '{separator}'; between letters and digits only '.', '_', '__' or dashes may stand";
            }
        }

        return null;
    }

    private static (string Host, int? Port) SplitRegistry(string registry)
    {
        if (registry.StartsWith('['))
        {
            var close = registry.IndexOf(']', StringComparison.Ordinal);
            if (close > 0)
            {
                var host = registry[1..close];
                var rest = registry[(close + 1)..];
                return (host, rest.StartsWith(':') && int.TryParse(rest[1..], CultureInfo.InvariantCulture, out var p) ? p : null);
            }

            return (registry, null);
        }

        var colon = registry.LastIndexOf(':');
        if (colon < 0)
        {
            return (registry, null);
        }

        return (registry[..colon], int.TryParse(registry[(colon + 1)..], CultureInfo.InvariantCulture, out var port) ? port : null);
    }

    private static bool IsLowerHex(char c) => c is >= '0' and <= '9' or >= 'a' and <= 'f';

    private static bool IsLowerAlphaNumeric(char c) => c is >= 'a' and <= 'z' or >= '0' and <= '9';

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
