using System.Net;

namespace Basalt.Oci.Registry;

/// <summary>Where a registry's distribution API lives and whether it may be spoken to over plain http.</summary>
public static class RegistryEndpoint
{
    /// <summary>The host serving the API: docker.io is served by registry-1.docker.io.</summary>
    public static string ApiHost(string registry) =>
        registry is "docker.io" or "index.docker.io" ? "registry-1.docker.io" : registry;

    /// <summary>True for localhost, 127.0.0.0/8 and [::1], with or without a port.</summary>
    public static bool IsLoopback(string registry)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        var host = HostWithoutPort(registry);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }

    /// <summary>"http" for loopback registries and those listed as insecure (by host:port or host), else "https".</summary>
    public static string Scheme(string registry, IReadOnlySet<string> insecureRegistries)
    {
        ArgumentNullException.ThrowIfNull(insecureRegistries);
        return IsLoopback(registry) || insecureRegistries.Contains(registry) || insecureRegistries.Contains(HostWithoutPort(registry))
            ? "http"
            : "https";
    }

    /// <summary>The base of the API, e.g. <c>https://registry-1.docker.io/v2/</c>.</summary>
    public static Uri BaseUri(string registry, IReadOnlySet<string> insecureRegistries) =>
        new($"{Scheme(registry, insecureRegistries)}://{ApiHost(registry)}/v2/");

    internal static string HostWithoutPort(string registry)
    {
        if (registry.StartsWith('['))
        {
            var close = registry.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? registry[..(close + 1)] : registry;
        }

        var colon = registry.LastIndexOf(':');
        return colon > 0 && registry.IndexOf(':', StringComparison.Ordinal) == colon ? registry[..colon] : registry;
    }
}
