using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Basalt.Testing;

/// <summary>One request the token server answered.</summary>
public sealed record TokenRequest(string? Account, IReadOnlyList<string> Scopes, bool Granted);

/// <summary>
/// A registry token server (the distribution "token" auth scheme): answers <c>GET /token?service=…&amp;scope=…</c>
/// with an ES256 JWT signed by a self-signed certificate, which it puts in the token's <c>x5c</c> header. The
/// registry trusts that certificate through its <c>rootcertbundle</c>. With credentials set, a request without
/// the right basic credentials gets 401, as Docker Hub does for a private repository.
/// </summary>
public sealed class TokenServer : IAsyncDisposable
{
    private readonly LoopbackServer _server;
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly ConcurrentQueue<TokenRequest> _requests = new();
    private readonly RegistryCredentials? _credentials;

    private TokenServer(LoopbackServer server, ECDsa key, X509Certificate2 certificate, string service, string issuer, RegistryCredentials? credentials, TimeSpan lifetime)
    {
        _server = server;
        _key = key;
        _certificate = certificate;
        Service = service;
        Issuer = issuer;
        _credentials = credentials;
        TokenLifetime = lifetime;
    }

    public string Service { get; }
    public string Issuer { get; }
    public TimeSpan TokenLifetime { get; }

    /// <summary>The realm a registry names in its <c>WWW-Authenticate: Bearer</c> challenge.</summary>
    public Uri Realm => new(_server.Address, "token");

    /// <summary>The signing certificate as PEM, for the registry's <c>rootcertbundle</c>.</summary>
    public string CertificatePem => _certificate.ExportCertificatePem();

    public IReadOnlyList<TokenRequest> Requests => [.. _requests];

    public static async Task<TokenServer> StartAsync(
        string service,
        string issuer,
        RegistryCredentials? credentials,
        TimeSpan? tokenLifetime = null,
        CancellationToken cancellationToken = default)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var request = new CertificateRequest($"CN={issuer}", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
            var now = DateTimeOffset.UtcNow;
            var certificate = request.CreateSelfSigned(now.AddHours(-1), now.AddDays(1));
            TokenServer? tokenServer = null;
            var server = await LoopbackServer.StartAsync(context => tokenServer!.HandleAsync(context), cancellationToken).ConfigureAwait(false);
            tokenServer = new TokenServer(server, key, certificate, service, issuer, credentials, tokenLifetime ?? TimeSpan.FromMinutes(5));
            return tokenServer;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>A signed token granting <paramref name="access"/>; also used by tests that forge or inspect tokens.</summary>
    public string IssueToken(string subject, IReadOnlyList<(string Type, string Name, IReadOnlyList<string> Actions)> access, TimeSpan? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(access);
        var header = Json(writer =>
        {
            writer.WriteString("typ", "JWT");
            writer.WriteString("alg", "ES256");
            writer.WriteStartArray("x5c");
            writer.WriteStringValue(Convert.ToBase64String(_certificate.RawData));
            writer.WriteEndArray();
        });
        var now = DateTimeOffset.UtcNow;
        var claims = Json(writer =>
        {
            writer.WriteString("iss", Issuer);
            writer.WriteString("sub", subject);
            writer.WriteString("aud", Service);
            writer.WriteNumber("iat", now.ToUnixTimeSeconds());
            writer.WriteNumber("nbf", now.AddSeconds(-30).ToUnixTimeSeconds());
            writer.WriteNumber("exp", now.Add(lifetime ?? TokenLifetime).ToUnixTimeSeconds());
            writer.WriteString("jti", Guid.NewGuid().ToString("N"));
            writer.WriteStartArray("access");
            foreach (var (type, name, actions) in access)
            {
                writer.WriteStartObject();
                writer.WriteString("type", type);
                writer.WriteString("name", name);
                writer.WriteStartArray("actions");
                foreach (var action in actions)
                {
                    writer.WriteStringValue(action);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });
        var signingInput = $"{Base64Url(header)}.{Base64Url(claims)}";
        // JWS ES256 wants the raw r||s signature, which is .NET's IEEE P1363 default.
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return $"{signingInput}.{Base64Url(signature)}";
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync().ConfigureAwait(false);
        _certificate.Dispose();
        _key.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != "/token" || !HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var scopes = context.Request.Query["scope"]
            .SelectMany(value => (value ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToList();
        var account = ReadBasicUser(context.Request, out var password);
        if (_credentials is not null && (account != _credentials.Username || password != _credentials.Password))
        {
            _requests.Enqueue(new TokenRequest(account, scopes, Granted: false));
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"basalt-test-token\"";
            return;
        }

        var requestedService = context.Request.Query["service"].ToString();
        if (requestedService.Length > 0 && requestedService != Service)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var access = scopes.Select(ParseScope).OfType<(string, string, IReadOnlyList<string>)>().ToList();
        _requests.Enqueue(new TokenRequest(account, scopes, Granted: true));
        var token = IssueToken(account ?? "anonymous", access);
        var body = Json(writer =>
        {
            writer.WriteString("token", token);
            writer.WriteString("access_token", token);
            writer.WriteNumber("expires_in", (long)TokenLifetime.TotalSeconds);
            // RFC 3339 with "Z": Go's time parser reads the raw JSON and would trip on an escaped "+00:00".
            writer.WriteString("issued_at", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        });
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private static (string Type, string Name, IReadOnlyList<string> Actions)? ParseScope(string scope)
    {
        // type:name:actions — the name may itself hold a colon (a registry port), so split at both ends.
        var first = scope.IndexOf(':', StringComparison.Ordinal);
        var last = scope.LastIndexOf(':');
        if (first <= 0 || last <= first)
        {
            return null;
        }

        var actions = scope[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries);
        return (scope[..first], scope[(first + 1)..last], actions);
    }

    private static string? ReadBasicUser(HttpRequest request, out string? password)
    {
        password = null;
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return request.Query["account"].FirstOrDefault();
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
        }
        catch (FormatException)
        {
            return null;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return null;
        }

        password = decoded[(colon + 1)..];
        return decoded[..colon];
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
