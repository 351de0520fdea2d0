using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry.Auth;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Oci.Registry;

/// <summary>
/// An OCI distribution-spec client on <see cref="HttpClient"/>: anonymous, bearer-token and basic auth,
/// retries with backoff, resumable verified blob downloads, and pushes (mount, monolithic, chunked).
/// Thread-safe; share one instance per command.
/// </summary>
public sealed partial class RegistryClient : IRegistryClient, IDisposable
{
    /// <summary>Manifests bigger than this are refused (no image manifest comes close).</summary>
    public const long ManifestSizeLimit = 4L * 1024 * 1024;

    private const long SmallDocumentLimit = 16L * 1024 * 1024;
    private const int MaxRedirects = 10;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(60);

    private readonly RegistryOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CredentialStore _credentials;
    private readonly ConcurrentDictionary<string, AuthChallenge> _challenges = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, CachedToken> _tokens = new(StringComparer.Ordinal);

    public RegistryClient(RegistryOptions? options = null, HttpMessageHandler? handler = null, ILogger? logger = null)
        : this(options, handler, logger, null)
    {
    }

    internal RegistryClient(RegistryOptions? options, HttpMessageHandler? handler, ILogger? logger, TimeProvider? time)
    {
        _options = options ?? new RegistryOptions();
        if (_options.MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxAttempts must be at least 1");
        }

        if (_options.ChunkSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "ChunkSize must be positive");
        }

        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _credentials = new CredentialStore(_options.AuthFilePath);
        _http = handler is null
            ? new HttpClient(
                new SocketsHttpHandler
                {
                    // Redirects are followed by hand so Authorization never leaks to blob storage on another host.
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    ConnectTimeout = _options.Timeout,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                },
                disposeHandler: true)
            : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("basalt", typeof(RegistryClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
    }

    public void Dispose() => _http.Dispose();

    public async Task PingAsync(string registry, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        var uri = RegistryEndpoint.BaseUri(registry, _options.InsecureRegistries);
        using var response = await SendAsync(new RegistryRequest(registry, null, [], () => new HttpRequestMessage(HttpMethod.Get, uri)), ct).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"ping {registry}", ct).ConfigureAwait(false);
    }

    public async Task<ManifestResponse> GetManifestAsync(ImageReference reference, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var uri = ManifestUri(reference, reference.Reference);
        using var response = await SendAsync(ManifestRequest(reference, HttpMethod.Get, uri), ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ManifestNotFoundException(reference, await ReadErrorMessageAsync(response, ct).ConfigureAwait(false));
        }

        await EnsureSuccessAsync(response, $"GET manifest {reference}", ct).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > ManifestSizeLimit)
        {
            throw new ManifestTooLargeException(reference, ManifestSizeLimit);
        }

        var content = await ReadBoundedAsync(response.Content, ManifestSizeLimit, ct).ConfigureAwait(false)
            ?? throw new ManifestTooLargeException(reference, ManifestSizeLimit);
        var digest = VerifyManifestDigest(reference, content, HeaderDigest(response));
        return new ManifestResponse(content, ManifestMediaType(response, content), digest);
    }

    public async Task<Digest> ResolveDigestAsync(ImageReference reference, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Digest is { } pinned)
        {
            return pinned;
        }

        var uri = ManifestUri(reference, reference.Reference);
        using (var response = await SendAsync(ManifestRequest(reference, HttpMethod.Head, uri), ct).ConfigureAwait(false))
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ManifestNotFoundException(reference, null);
            }

            if (response.IsSuccessStatusCode && HeaderDigest(response) is { } digest)
            {
                return digest;
            }

            LogHeadFallback(_logger, reference.ToString(), (int)response.StatusCode);
        }

        // Some registries answer HEAD without Docker-Content-Digest (or not at all): hash the manifest itself.
        return (await GetManifestAsync(reference, ct).ConfigureAwait(false)).Digest;
    }

    public async Task<Digest> PushManifestAsync(ImageReference reference, byte[] content, string mediaType, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(mediaType);
        var computed = reference.Digest is { } wanted ? HashOf(wanted.Algorithm, content) : Digest.Sha256(content);
        if (reference.Digest is { } expected && expected != computed)
        {
            throw new DigestMismatchException(expected, computed, $"manifest for {reference}");
        }

        var uri = ManifestUri(reference, reference.Tag ?? computed.Value);
        using var response = await SendAsync(
            new RegistryRequest(reference.Registry, reference.Repository, [Scopes.PullPush(reference.Repository)], () =>
            {
                var body = new ByteArrayContent(content);
                body.Headers.TryAddWithoutValidation("Content-Type", mediaType);
                return new HttpRequestMessage(HttpMethod.Put, uri) { Content = body };
            }),
            ct).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"PUT manifest {reference}", ct).ConfigureAwait(false);
        if (HeaderDigest(response) is { } reported && reported.Algorithm == computed.Algorithm && reported != computed)
        {
            throw new RegistryProtocolException($"registry {reference.Registry} stored manifest {reference} as {reported}, but its content hashes to {computed}");
        }

        return computed;
    }

    public async Task<IReadOnlyList<string>> ListTagsAsync(ImageReference repository, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var tags = new List<string>();
        Uri? uri = new(RegistryEndpoint.BaseUri(repository.Registry, _options.InsecureRegistries), $"{repository.Repository}/tags/list");
        var origin = uri;
        for (var page = 0; uri is not null; page++)
        {
            if (page >= 10_000)
            {
                throw new RegistryProtocolException($"registry {repository.Registry}: tag list of {repository.Repository} does not end (more than 10000 pages)");
            }

            var pageUri = uri;
            using var response = await SendAsync(
                new RegistryRequest(repository.Registry, repository.Repository, [Scopes.Pull(repository.Repository)], () => new HttpRequestMessage(HttpMethod.Get, pageUri)),
                ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new RepositoryNotFoundException(repository, await ReadErrorMessageAsync(response, ct).ConfigureAwait(false));
            }

            await EnsureSuccessAsync(response, $"list tags of {repository.Registry}/{repository.Repository}", ct).ConfigureAwait(false);
            var body = await ReadBoundedAsync(response.Content, SmallDocumentLimit, ct).ConfigureAwait(false)
                ?? throw new RegistryProtocolException($"registry {repository.Registry}: tag list page is larger than {SmallDocumentLimit} bytes");
            TagList? list;
            try
            {
                list = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.TagList);
            }
            catch (JsonException ex)
            {
                throw new RegistryProtocolException($"registry {repository.Registry}: tag list is not valid JSON: {ex.Message}", inner: ex);
            }

            tags.AddRange(list?.Tags ?? []);
            uri = response.Headers.NonValidated.TryGetValues("Link", out var links) ? LinkHeader.Next(links, pageUri) : null;
            if (uri is not null && !SameAuthority(origin, uri))
            {
                throw new RegistryProtocolException($"registry {repository.Registry}: tag list pagination points to another host ({uri.Authority})");
            }
        }

        return tags;
    }

    private RegistryRequest ManifestRequest(ImageReference reference, HttpMethod method, Uri uri) =>
        new(reference.Registry, reference.Repository, [Scopes.Pull(reference.Repository)], () =>
        {
            var request = new HttpRequestMessage(method, uri);
            foreach (var accepted in MediaTypes.AcceptedManifests)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accepted));
            }

            return request;
        });

    private Uri ManifestUri(ImageReference reference, string tagOrDigest) =>
        new(RegistryEndpoint.BaseUri(reference.Registry, _options.InsecureRegistries), $"{reference.Repository}/manifests/{tagOrDigest}");

    private Uri BlobUri(ImageReference repository, Digest digest) =>
        new(RegistryEndpoint.BaseUri(repository.Registry, _options.InsecureRegistries), $"{repository.Repository}/blobs/{digest.Value}");

    private Uri UploadsUri(ImageReference repository) =>
        new(RegistryEndpoint.BaseUri(repository.Registry, _options.InsecureRegistries), $"{repository.Repository}/blobs/uploads/");

    private static Digest VerifyManifestDigest(ImageReference reference, byte[] content, Digest? headerDigest)
    {
        var expected = reference.Digest ?? headerDigest;
        if (expected is not { } wanted)
        {
            return Digest.Sha256(content);
        }

        var actual = HashOf(wanted.Algorithm, content);
        return actual == wanted ? actual : throw new DigestMismatchException(wanted, actual, $"manifest {reference}");
    }

    private static Digest HashOf(string algorithm, byte[] content) => algorithm == "sha512"
        ? Digest.FromHash("sha512", SHA512.HashData(content))
        : Digest.Sha256(content);

    private static Digest? HeaderDigest(HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var values)
        && values.FirstOrDefault() is { } text
        && Digest.TryParse(text.Trim(), out var digest)
            ? digest
            : null;

    private static string ManifestMediaType(HttpResponseMessage response, byte[] content)
    {
        var declared = response.Content.Headers.ContentType?.MediaType;
        if (declared is not null && declared is not ("application/json" or "text/plain" or "application/octet-stream"))
        {
            return declared;
        }

        // A registry that serves a generic type: the document's own mediaType field says what it is.
        try
        {
            var probe = JsonSerializer.Deserialize(content, RegistryJsonContext.Default.ManifestMediaTypeProbe);
            return probe?.MediaType ?? declared ?? string.Empty;
        }
        catch (JsonException)
        {
            return declared ?? string.Empty;
        }
    }

    /// <summary>Reads a body of at most <paramref name="limit"/> bytes; null when it is longer.</summary>
    private async Task<byte[]?> ReadBoundedAsync(HttpContent content, long limit, CancellationToken ct)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var read = await ReadIdleAsync(stream, chunk, idle, ct).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }
    }

    /// <summary>One read that fails with <see cref="TimeoutException"/> when the server stalls longer than the timeout.</summary>
    private async Task<int> ReadIdleAsync(Stream stream, Memory<byte> buffer, CancellationTokenSource idle, CancellationToken ct)
    {
        idle.CancelAfter(_options.Timeout);
        try
        {
            return await stream.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"the registry sent nothing for {_options.Timeout.TotalSeconds:0.#} s", ex);
        }
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var message = await ReadErrorMessageAsync(response, ct).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        throw new RegistryProtocolException(
            $"{what}: registry answered {status} {response.ReasonPhrase}{ManifestNotFoundException.Suffix(message)}",
            response.StatusCode,
            status >= 500 ? "the registry failed; try again later" : null);
    }

    /// <summary>The registry's <c>errors</c> array as one line, or the start of a non-JSON body.</summary>
    private async Task<string?> ReadErrorMessageAsync(HttpResponseMessage response, CancellationToken ct)
    {
        byte[]? body;
        try
        {
            body = await ReadBoundedAsync(response.Content, 64 * 1024, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTransientTransport(ex, ct))
        {
            return null;
        }

        if (body is not { Length: > 0 })
        {
            return null;
        }

        try
        {
            var errors = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.RegistryErrorList)?.Errors;
            if (errors is { Count: > 0 })
            {
                return string.Join("; ", errors.Select(e => string.IsNullOrEmpty(e.Code) ? e.Message : $"{e.Code}: {e.Message}"));
            }
        }
        catch (JsonException)
        {
        }

        var text = Encoding.UTF8.GetString(body).Trim();
        return text.Length > 200 ? text[..200] + "…" : text;
    }

    private static bool SameAuthority(Uri a, Uri b) =>
        a.Scheme.Equals(b.Scheme, StringComparison.OrdinalIgnoreCase)
        && a.Host.Equals(b.Host, StringComparison.OrdinalIgnoreCase)
        && a.Port == b.Port;

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Uri} -> {Status}")]
    private static partial void LogResponse(ILogger logger, string method, Uri uri, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{What} failed (attempt {Attempt} of {MaxAttempts}): {Reason}; retrying in {Delay}")]
    private static partial void LogRetry(ILogger logger, string what, int attempt, int maxAttempts, string reason, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Debug, Message = "HEAD {Reference} answered {Status} without a digest; falling back to GET")]
    private static partial void LogHeadFallback(ILogger logger, string reference, int status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "fetched token for {Registry} scope '{Scope}' from {Realm}")]
    private static partial void LogToken(ILogger logger, string registry, string scope, string realm);

    [LoggerMessage(Level = LogLevel.Information, Message = "blob {Digest}: {Action}")]
    private static partial void LogBlob(ILogger logger, string digest, string action);
}

/// <summary>Token scopes of the distribution auth spec.</summary>
internal static class Scopes
{
    public static string Pull(string repository) => $"repository:{repository}:pull";

    public static string PullPush(string repository) => $"repository:{repository}:pull,push";
}
