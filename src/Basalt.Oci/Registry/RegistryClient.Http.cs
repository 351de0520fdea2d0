using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Basalt.Oci.Registry.Auth;

namespace Basalt.Oci.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Sends a request with authentication and retries. A replayable request is retried on transport errors,
    /// 5xx and 429, and re-sent once after a 401 with fresh credentials. A request whose body cannot be
    /// re-sent fails with <see cref="RetryableUploadException"/> instead, so the whole upload restarts.
    /// Returns every other response (including 404 and final failures) for the caller to interpret.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(RegistryRequest request, CancellationToken ct)
    {
        var authRetried = false;
        for (var attempt = 1; ; attempt++)
        {
            var authorization = request.Authenticate ? await CachedAuthorizationAsync(request, ct).ConfigureAwait(false) : null;
            HttpResponseMessage response;
            try
            {
                response = await SendFollowingRedirectsAsync(request.Create, authorization, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (request.Replayable && attempt < _options.MaxAttempts && IsRetryableTransport(ex, ct))
            {
                var delay = Backoff(attempt, null);
                LogRetry(_logger, request.Registry, attempt, _options.MaxAttempts, ex.Message, delay);
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                continue;
            }
            catch (Exception ex) when (IsTransientTransport(ex, ct))
            {
                if (!request.Replayable && IsRetryableTransport(ex, ct))
                {
                    throw new RetryableUploadException(ex.Message, null, ex);
                }

                throw Unreachable(request.Registry, ex);
            }

            if (request.Authenticate && response.StatusCode == HttpStatusCode.Unauthorized)
            {
                var challenge = ChooseChallenge(response);
                var message = await ReadErrorMessageAsync(response, ct).ConfigureAwait(false);
                response.Dispose();
                if (challenge is not null)
                {
                    _challenges[request.Registry] = challenge;
                }

                _tokens.TryRemove(TokenKey(request.Registry, request.Scopes), out _);
                if (!request.Replayable)
                {
                    // Probably an expired token mid-upload: the upload restarts and authenticates afresh.
                    throw new RetryableUploadException($"401 {message}", null);
                }

                if (authRetried)
                {
                    throw new RegistryAuthenticationException(request.Registry, $"access denied (401){ManifestNotFoundException.Suffix(message)}", DescribeCredentials(request));
                }

                if (challenge is null)
                {
                    throw new RegistryAuthenticationException(request.Registry, "registry answered 401 without a Bearer or Basic WWW-Authenticate challenge", DescribeCredentials(request));
                }

                await AuthenticateAsync(request, challenge, ct).ConfigureAwait(false);
                authRetried = true;
                attempt--;
                continue;
            }

            if (request.Authenticate && response.StatusCode == HttpStatusCode.Forbidden)
            {
                var message = await ReadErrorMessageAsync(response, ct).ConfigureAwait(false);
                response.Dispose();
                throw new RegistryAuthenticationException(request.Registry, $"access denied (403){ManifestNotFoundException.Suffix(message)}", DescribeCredentials(request));
            }

            if (IsTransientStatus(response.StatusCode))
            {
                var retryAfter = RetryAfter(response);
                if (!request.Replayable)
                {
                    var status = (int)response.StatusCode;
                    response.Dispose();
                    throw new RetryableUploadException($"registry answered {status}", retryAfter);
                }

                if (attempt < _options.MaxAttempts)
                {
                    var delay = Backoff(attempt, retryAfter);
                    LogRetry(_logger, request.Registry, attempt, _options.MaxAttempts, $"registry answered {(int)response.StatusCode}", delay);
                    response.Dispose();
                    await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                    continue;
                }
            }

            return response;
        }
    }

    /// <summary>One exchange, following redirects by hand; Authorization only goes to the original host.</summary>
    private async Task<HttpResponseMessage> SendFollowingRedirectsAsync(Func<HttpRequestMessage> create, AuthenticationHeaderValue? authorization, CancellationToken ct)
    {
        var message = create();
        var origin = message.RequestUri ?? throw new InvalidOperationException("request without URI");
        if (authorization is not null)
        {
            message.Headers.Authorization = authorization;
        }

        for (var hops = 0; ; hops++)
        {
            HttpResponseMessage response;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(_options.Timeout);
                try
                {
                    response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException($"no response from {message.RequestUri} within {_options.Timeout.TotalSeconds:0.#} s", ex);
                }
            }

            var current = message.RequestUri!;
            LogResponse(_logger, message.Method.Method, current, (int)response.StatusCode);
            if (!IsRedirect(response.StatusCode) || response.Headers.Location is null || message.Content is not null)
            {
                return response;
            }

            var target = new Uri(current, response.Headers.Location);
            response.Dispose();
            if (hops >= MaxRedirects)
            {
                throw new RegistryProtocolException($"more than {MaxRedirects} redirects starting at {origin}");
            }

            if (current.Scheme == Uri.UriSchemeHttps && target.Scheme != Uri.UriSchemeHttps)
            {
                throw new RegistryProtocolException($"refusing redirect from {current} to non-https {target}");
            }

            var method = response.StatusCode == HttpStatusCode.SeeOther && message.Method != HttpMethod.Head ? HttpMethod.Get : message.Method;
            var next = new HttpRequestMessage(method, target);
            foreach (var header in message.Headers)
            {
                if (!header.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
                {
                    next.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            if (authorization is not null && SameAuthority(origin, target))
            {
                next.Headers.Authorization = authorization;
            }

            message = next;
        }
    }

    private async Task<AuthenticationHeaderValue?> CachedAuthorizationAsync(RegistryRequest request, CancellationToken ct)
    {
        if (!_challenges.TryGetValue(request.Registry, out var challenge))
        {
            return null;
        }

        if (challenge.IsBasic)
        {
            return _credentials.Find(request.Registry, request.Repository) is { } credential
                ? new AuthenticationHeaderValue("Basic", credential.BasicHeaderValue())
                : null;
        }

        if (_tokens.TryGetValue(TokenKey(request.Registry, request.Scopes), out var cached) && cached.ValidUntil > _time.GetUtcNow())
        {
            return new AuthenticationHeaderValue("Bearer", cached.Token);
        }

        // The registry is known to want tokens: get one for these scopes now rather than after a 401.
        var token = await FetchTokenAsync(request, challenge, ct).ConfigureAwait(false);
        return new AuthenticationHeaderValue("Bearer", token);
    }

    private async Task AuthenticateAsync(RegistryRequest request, AuthChallenge challenge, CancellationToken ct)
    {
        if (challenge.IsBasic)
        {
            if (_credentials.Find(request.Registry, request.Repository) is null)
            {
                throw new RegistryAuthenticationException(request.Registry, "the registry requires a username and password (Basic auth)", DescribeCredentials(request));
            }

            return;
        }

        await FetchTokenAsync(request, challenge, ct).ConfigureAwait(false);
    }

    private async Task<string> FetchTokenAsync(RegistryRequest request, AuthChallenge challenge, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(challenge.Realm) || !Uri.TryCreate(challenge.Realm, UriKind.Absolute, out var realm))
        {
            throw new RegistryAuthenticationException(request.Registry, $"Bearer challenge without a usable realm ('{challenge.Realm}')", DescribeCredentials(request));
        }

        var scopes = request.Scopes.ToList();
        if (challenge.Scope is { Length: > 0 } asked)
        {
            scopes.AddRange(asked.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => !scopes.Contains(s)));
        }

        var query = new List<string>();
        if (!string.IsNullOrEmpty(challenge.Service))
        {
            query.Add("service=" + Uri.EscapeDataString(challenge.Service));
        }

        query.AddRange(scopes.Select(s => "scope=" + Uri.EscapeDataString(s)));
        var tokenUri = query.Count == 0
            ? realm
            : new Uri(realm + (string.IsNullOrEmpty(realm.Query) ? "?" : "&") + string.Join('&', query));
        var credential = _credentials.Find(request.Registry, request.Repository);
        var tokenRequest = new RegistryRequest(request.Registry, request.Repository, [], () =>
        {
            var message = new HttpRequestMessage(HttpMethod.Get, tokenUri);
            if (credential is not null)
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Basic", credential.BasicHeaderValue());
            }

            return message;
        })
        { Authenticate = false };

        using var response = await SendAsync(tokenRequest, ct).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var message = await ReadErrorMessageAsync(response, ct).ConfigureAwait(false);
            throw new RegistryAuthenticationException(
                request.Registry,
                $"token service {realm.GetLeftPart(UriPartial.Path)} refused {(credential is null ? "anonymous access" : "the credentials")} ({(int)response.StatusCode}){ManifestNotFoundException.Suffix(message)}",
                DescribeCredentials(request));
        }

        await EnsureSuccessAsync(response, $"token service {realm.GetLeftPart(UriPartial.Path)}", ct).ConfigureAwait(false);
        var body = await ReadBoundedAsync(response.Content, 1024 * 1024, ct).ConfigureAwait(false)
            ?? throw new RegistryProtocolException($"token service {realm.GetLeftPart(UriPartial.Path)} sent more than 1 MiB");
        TokenResponse? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.TokenResponse);
        }
        catch (JsonException ex)
        {
            throw new RegistryProtocolException($"token service {realm.GetLeftPart(UriPartial.Path)} sent invalid JSON: {ex.Message}", inner: ex);
        }

        var token = parsed?.Token is { Length: > 0 } t ? t
            : parsed?.AccessToken is { Length: > 0 } a ? a
            : throw new RegistryProtocolException($"token service {realm.GetLeftPart(UriPartial.Path)} answered without a token");

        // The token spec says 60 s when the service does not say; renew a little early so a token never expires in flight.
        var lifetime = TimeSpan.FromSeconds(parsed.ExpiresIn is > 0 and var seconds ? seconds : 60);
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(10).Ticks, lifetime.Ticks / 2));
        _tokens[TokenKey(request.Registry, request.Scopes)] = new CachedToken(token, _time.GetUtcNow() + lifetime - margin);
        LogToken(_logger, request.Registry, string.Join(' ', scopes), realm.GetLeftPart(UriPartial.Path));
        return token;
    }

    private static AuthChallenge? ChooseChallenge(HttpResponseMessage response)
    {
        if (!response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values))
        {
            return null;
        }

        var challenges = AuthChallenge.ParseAll(string.Join(", ", values));
        return challenges.FirstOrDefault(c => c.IsBearer) ?? challenges.FirstOrDefault(c => c.IsBasic);
    }

    private string DescribeCredentials(RegistryRequest request)
    {
        var credential = _credentials.Find(request.Registry, request.Repository);
        if (credential is not null)
        {
            return $"user '{credential.Username}' from {credential.Source}";
        }

        var sources = _credentials.DescribeSources();
        return sources.StartsWith("none", StringComparison.Ordinal) || sources.StartsWith("no ", StringComparison.Ordinal)
            ? $"anonymous; {sources}"
            : $"anonymous; {sources} has no entry for {request.Registry}";
    }

    private static string TokenKey(string registry, IReadOnlyList<string> scopes) =>
        registry + "|" + string.Join(' ', scopes.Order(StringComparer.Ordinal));

    private TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } asked)
        {
            return asked < TimeSpan.Zero ? TimeSpan.Zero : asked > MaxRetryAfter ? MaxRetryAfter : asked;
        }

        var delay = _options.InitialBackoff * Math.Pow(2, Math.Min(attempt - 1, 20));
        return delay > MaxBackoff ? MaxBackoff : delay;
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - _time.GetUtcNow(),
        _ => null,
    };

    private static bool IsRedirect(HttpStatusCode status) => status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found
        or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    private static bool IsTransientStatus(HttpStatusCode status) => (int)status >= 500 || status == HttpStatusCode.TooManyRequests;

    /// <summary>Transport failures: the request may not have reached the registry, or its answer was cut.</summary>
    private static bool IsTransientTransport(Exception ex, CancellationToken ct) =>
        !ct.IsCancellationRequested && ex is HttpRequestException or IOException or TimeoutException;

    /// <summary>Transport failures worth another attempt: not an unknown host, not a TLS mismatch.</summary>
    private static bool IsRetryableTransport(Exception ex, CancellationToken ct) =>
        IsTransientTransport(ex, ct)
        && ex is not HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError };

    private RegistryUnreachableException Unreachable(string registry, Exception ex)
    {
        var endpoint = RegistryEndpoint.BaseUri(registry, _options.InsecureRegistries);
        var root = ex;
        while (root.InnerException is not null)
        {
            root = root.InnerException;
        }

        var reason = root == ex ? ex.Message : $"{ex.Message} ({root.Message})";
        var host = RegistryEndpoint.HostWithoutPort(registry);
        var hint = ex is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError }
            ? $"the TLS handshake failed; if the registry speaks plain http use --insecure-registry {registry}"
            : ex is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError }
                ? $"the host name {host} does not resolve; check the reference"
                : $"is the registry running? for plain http use --insecure-registry {registry}";
        return new RegistryUnreachableException(registry, endpoint, reason, hint, ex);
    }

    private sealed record CachedToken(string Token, DateTimeOffset ValidUntil);
}

/// <summary>What to send, to which registry and repository, under which token scopes.</summary>
internal sealed record RegistryRequest(string Registry, string? Repository, IReadOnlyList<string> Scopes, Func<HttpRequestMessage> Create)
{
    /// <summary>False for a request whose body is a stream that cannot be sent again.</summary>
    public bool Replayable { get; init; } = true;

    /// <summary>False for requests to a token service.</summary>
    public bool Authenticate { get; init; } = true;
}

/// <summary>A step of an upload failed in a way that a fresh upload may cure (5xx, 429, cut connection, expired token).</summary>
internal sealed class RetryableUploadException : Exception
{
    public RetryableUploadException(string message, TimeSpan? retryAfter, Exception? inner = null)
        : base(message, inner)
    {
        RetryAfter = retryAfter;
    }

    public TimeSpan? RetryAfter { get; }
}
