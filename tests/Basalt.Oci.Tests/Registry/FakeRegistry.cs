using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Basalt.Oci.Model;

namespace Basalt.Oci.Tests.Registry;

public enum FakeAuth
{
    None,
    Basic,
    Bearer,
}

/// <summary>
/// An in-memory OCI distribution registry behind an <see cref="HttpMessageHandler"/>, with switches that
/// misbehave the way real registries and networks do (cut bodies, ignored Range, 503s, redirects).
/// </summary>
public sealed class FakeRegistry : HttpMessageHandler
{
    public const string Realm = "http://auth.test/token";
    public const string Service = "fake-registry";
    public const string StorageHost = "storage.test";

    private readonly ConcurrentDictionary<string, byte[]> _blobs = new();
    private readonly ConcurrentDictionary<string, (byte[] Content, string MediaType)> _manifests = new();
    private readonly ConcurrentDictionary<string, MemoryStream> _uploads = new();
    private readonly ConcurrentDictionary<string, HashSet<string>> _grants = new();
    private int _counter;

    public FakeAuth Auth { get; set; } = FakeAuth.None;
    public string? Username { get; set; }
    public string? Password { get; set; }
    public bool TokenAsAccessToken { get; set; }
    public int TokenExpiresIn { get; set; } = 300;

    /// <summary>Cut the body of the next N blob GETs after this many bytes (with an IOException).</summary>
    public int CutBlobAfterBytes { get; set; }
    public int CutsRemaining { get; set; }
    public bool IgnoreRange { get; set; }
    public bool RedirectBlobsToStorage { get; set; }
    public bool AllowMount { get; set; } = true;
    public bool AbsoluteUploadLocation { get; set; }
    public bool HeadOmitsDigest { get; set; }
    public int TagPageSize { get; set; } = 2;
    public bool WrapContentErrors { get; set; }

    /// <summary>Runs first; a non-null answer is returned instead of the registry's.</summary>
    public Func<HttpRequestMessage, HttpResponseMessage?>? Intercept { get; set; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public IEnumerable<RecordedRequest> TokenRequests => Requests.Where(r => r.Uri.Host == "auth.test");

    public IEnumerable<RecordedRequest> RegistryRequests => Requests.Where(r => r.Uri.Host != "auth.test" && r.Uri.Host != StorageHost);

    public Descriptor AddBlob(string repository, byte[] content)
    {
        var digest = Digest.Sha256(content);
        _blobs[$"{repository}|{digest}"] = content;
        return new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = digest, Size = content.Length };
    }

    public byte[]? GetBlob(string repository, Digest digest) => _blobs.GetValueOrDefault($"{repository}|{digest}");

    public Digest AddManifest(string repository, string tag, byte[] content, string mediaType = MediaTypes.OciManifest)
    {
        var digest = Digest.Sha256(content);
        _manifests[$"{repository}|{tag}"] = (content, mediaType);
        _manifests[$"{repository}|{digest}"] = (content, mediaType);
        return digest;
    }

    /// <summary>Serve other bytes under a reference (a registry gone bad).</summary>
    public void Tamper(string repository, string reference, byte[] content) =>
        _manifests[$"{repository}|{reference}"] = (content, _manifests[$"{repository}|{reference}"].MediaType);

    public (byte[] Content, string MediaType)? GetManifest(string repository, string reference) =>
        _manifests.TryGetValue($"{repository}|{reference}", out var m) ? m : null;

    public IEnumerable<string> Tags(string repository) => _manifests.Keys
        .Where(k => k.StartsWith(repository + "|", StringComparison.Ordinal) && !k.Contains("sha256:", StringComparison.Ordinal))
        .Select(k => k[(repository.Length + 1)..])
        .Order(StringComparer.Ordinal);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        catch (Exception ex) when (WrapContentErrors)
        {
            // What SocketsHttpHandler does when the request content throws while it is being sent.
            throw new HttpRequestException("Error while copying content to a stream.", ex);
        }


        var recorded = new RecordedRequest(request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(),
            request.Headers.Range?.ToString(), string.Join(", ", request.Headers.Accept.Select(a => a.MediaType)),
            request.Content?.Headers.TryGetValues("Content-Range", out var cr) == true ? cr.First() : null,
            request.Content?.Headers.ContentType?.ToString(), body.Length);
        Requests.Enqueue(recorded);
        var response = Intercept?.Invoke(request) ?? Handle(request, body);
        response.RequestMessage = request;
        return response;
    }

    private HttpResponseMessage Handle(HttpRequestMessage request, byte[] body)
    {
        var uri = request.RequestUri!;
        if (uri.Host == "auth.test")
        {
            return IssueToken(request);
        }

        if (uri.Host == StorageHost)
        {
            var key = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
            return _blobs.TryGetValue(key, out var stored) ? ServeBlob(request, stored) : Status(HttpStatusCode.NotFound);
        }

        var path = uri.AbsolutePath;
        if (!path.StartsWith("/v2/", StringComparison.Ordinal))
        {
            return Status(HttpStatusCode.NotFound);
        }

        var rest = path[4..];
        var repository = RepositoryOf(rest);
        var write = request.Method != HttpMethod.Get && request.Method != HttpMethod.Head;
        if (Authorize(request, rest.Length == 0 ? null : repository, write) is { } denied)
        {
            return denied;
        }

        if (rest.Length == 0)
        {
            return Status(HttpStatusCode.OK);
        }

        if (Split(rest, "/manifests/") is var (mRepo, reference))
        {
            return Manifest(request, mRepo, reference, body);
        }

        if (Split(rest, "/blobs/uploads/") is var (uRepo, session))
        {
            return Upload(request, uRepo, session, body);
        }

        if (Split(rest, "/blobs/") is var (bRepo, digest))
        {
            return Blob(request, bRepo, digest);
        }

        if (rest.EndsWith("/tags/list", StringComparison.Ordinal))
        {
            return TagPage(uri, rest[..^"/tags/list".Length]);
        }

        return Status(HttpStatusCode.NotFound);
    }

    private static string RepositoryOf(string rest)
    {
        foreach (var marker in new[] { "/manifests/", "/blobs/", "/tags/list" })
        {
            var index = rest.IndexOf(marker, StringComparison.Ordinal);
            if (index > 0)
            {
                return rest[..index];
            }
        }

        return rest;
    }

    private static (string, string)? Split(string rest, string marker)
    {
        var index = rest.IndexOf(marker, StringComparison.Ordinal);
        return index > 0 ? (rest[..index], rest[(index + marker.Length)..]) : null;
    }

    private HttpResponseMessage? Authorize(HttpRequestMessage request, string? repository, bool write)
    {
        var header = request.Headers.Authorization;
        switch (Auth)
        {
            case FakeAuth.Basic:
                if (header?.Scheme == "Basic" && header.Parameter == BasicValue())
                {
                    return null;
                }

                return Challenge("Basic realm=\"fake\"");
            case FakeAuth.Bearer:
                var needed = repository is null ? null : $"repository:{repository}:{(write ? "push" : "pull")}";
                if (header?.Scheme == "Bearer" && header.Parameter is { } token && _grants.TryGetValue(token, out var granted)
                    && (needed is null || granted.Contains(needed)))
                {
                    return null;
                }

                var scope = repository is null ? string.Empty : $",scope=\"repository:{repository}:{(write ? "pull,push" : "pull")}\"";
                return Challenge($"Bearer realm=\"{Realm}\",service=\"{Service}\"{scope}");
            default:
                return null;
        }
    }

    private string BasicValue() => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    private static HttpResponseMessage Challenge(string value)
    {
        var response = Error(HttpStatusCode.Unauthorized, "UNAUTHORIZED", "authentication required");
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", value);
        return response;
    }

    private HttpResponseMessage IssueToken(HttpRequestMessage request)
    {
        if (Username is not null)
        {
            var header = request.Headers.Authorization;
            if (header is not null && (header.Scheme != "Basic" || header.Parameter != BasicValue()))
            {
                return Error(HttpStatusCode.Unauthorized, "UNAUTHORIZED", "bad credentials");
            }

            if (header is null && request.RequestUri!.Query.Contains("push", StringComparison.Ordinal))
            {
                return Error(HttpStatusCode.Unauthorized, "UNAUTHORIZED", "push needs credentials");
            }
        }

        var grants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in request.RequestUri!.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (part[..equals] != "scope")
            {
                continue;
            }

            var scope = Uri.UnescapeDataString(part[(equals + 1)..]);
            var pieces = scope.Split(':');
            foreach (var action in pieces[2].Split(','))
            {
                grants.Add($"{pieces[0]}:{pieces[1]}:{action}");
            }
        }

        var token = $"tok-{Interlocked.Increment(ref _counter)}";
        _grants[token] = grants;
        var field = TokenAsAccessToken ? "access_token" : "token";
        return Json(HttpStatusCode.OK, $"{{\"{field}\":\"{token}\",\"expires_in\":{TokenExpiresIn}}}");
    }

    private HttpResponseMessage Manifest(HttpRequestMessage request, string repository, string reference, byte[] body)
    {
        if (request.Method == HttpMethod.Put)
        {
            var mediaType = request.Content!.Headers.ContentType!.MediaType!;
            var digest = Digest.Sha256(body);
            _manifests[$"{repository}|{reference}"] = (body, mediaType);
            _manifests[$"{repository}|{digest}"] = (body, mediaType);
            var created = Status(HttpStatusCode.Created);
            created.Headers.TryAddWithoutValidation("Docker-Content-Digest", digest.Value);
            return created;
        }

        if (!_manifests.TryGetValue($"{repository}|{reference}", out var manifest))
        {
            return Error(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN", "manifest unknown");
        }

        var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new ByteArrayContent(request.Method == HttpMethod.Head ? [] : manifest.Content),
        };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
        if (!(request.Method == HttpMethod.Head && HeadOmitsDigest))
        {
            response.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digest.Sha256(manifest.Content).Value);
        }

        return response;
    }

    private HttpResponseMessage Blob(HttpRequestMessage request, string repository, string digest)
    {
        if (!_blobs.TryGetValue($"{repository}|{digest}", out var content))
        {
            return Error(HttpStatusCode.NotFound, "BLOB_UNKNOWN", "blob unknown to registry");
        }

        if (request.Method == HttpMethod.Head)
        {
            var head = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            head.Headers.TryAddWithoutValidation("Docker-Content-Digest", digest);
            return head;
        }

        if (RedirectBlobsToStorage)
        {
            var redirect = new HttpResponseMessage(HttpStatusCode.TemporaryRedirect);
            redirect.Headers.Location = new Uri($"http://{StorageHost}/{Uri.EscapeDataString($"{repository}|{digest}")}?sig=abc");
            return redirect;
        }

        return ServeBlob(request, content);
    }

    private HttpResponseMessage ServeBlob(HttpRequestMessage request, byte[] content)
    {
        var start = 0L;
        var status = HttpStatusCode.OK;
        if (!IgnoreRange && request.Headers.Range?.Ranges.FirstOrDefault() is { From: { } from })
        {
            if (from >= content.Length)
            {
                return Status(HttpStatusCode.RequestedRangeNotSatisfiable);
            }

            start = from;
            status = HttpStatusCode.PartialContent;
        }

        var slice = content.AsMemory((int)start).ToArray();
        Stream stream = new MemoryStream(slice);
        if (CutsRemaining > 0)
        {
            CutsRemaining--;
            stream = new CuttingStream(slice, CutBlobAfterBytes);
        }

        var response = new HttpResponseMessage(status) { Content = new StreamContent(stream) };
        response.Content.Headers.ContentLength = slice.Length;
        if (status == HttpStatusCode.PartialContent)
        {
            response.Content.Headers.ContentRange = new ContentRangeHeaderValue(start, content.Length - 1, content.Length);
        }

        return response;
    }

    private HttpResponseMessage Upload(HttpRequestMessage request, string repository, string session, byte[] body)
    {
        var query = request.RequestUri!.Query;
        if (request.Method == HttpMethod.Post)
        {
            var mount = QueryValue(query, "mount");
            var from = QueryValue(query, "from");
            if (mount is not null && from is not null && AllowMount && _blobs.TryGetValue($"{from}|{mount}", out var mounted))
            {
                _blobs[$"{repository}|{mount}"] = mounted;
                return Status(HttpStatusCode.Created);
            }

            var id = $"u{Interlocked.Increment(ref _counter)}";
            _uploads[id] = new MemoryStream();
            return UploadAccepted(request.RequestUri!, repository, id, 0);
        }

        var state = QueryValue(query, "_state");
        if (!_uploads.TryGetValue(session, out var upload) || state != $"s-{session}-{upload.Length}")
        {
            return Error(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN", "upload unknown or stale state");
        }

        if (request.Method == HttpMethod.Patch)
        {
            var range = request.Content!.Headers.TryGetValues("Content-Range", out var values) ? values.First() : null;
            if (range is not null && range != $"{upload.Length}-{upload.Length + body.Length - 1}")
            {
                return Error(HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "bad range");
            }

            upload.Write(body);
            return UploadAccepted(request.RequestUri!, repository, session, upload.Length);
        }

        if (request.Method == HttpMethod.Put)
        {
            upload.Write(body);
            var content = upload.ToArray();
            var digest = QueryValue(query, "digest");
            if (digest != Digest.Sha256(content).Value)
            {
                return Error(HttpStatusCode.BadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content");
            }

            _uploads.TryRemove(session, out _);
            _blobs[$"{repository}|{digest}"] = content;
            var created = Status(HttpStatusCode.Created);
            created.Headers.TryAddWithoutValidation("Docker-Content-Digest", digest);
            return created;
        }

        return Status(HttpStatusCode.MethodNotAllowed);
    }

    private HttpResponseMessage UploadAccepted(Uri requestUri, string repository, string id, long length)
    {
        var response = Status(HttpStatusCode.Accepted);
        var location = $"/v2/{repository}/blobs/uploads/{id}?_state=s-{id}-{length}";
        response.Headers.Location = AbsoluteUploadLocation ? new Uri($"{requestUri.GetLeftPart(UriPartial.Authority)}{location}") : new Uri(location, UriKind.Relative);
        if (length > 0)
        {
            response.Headers.TryAddWithoutValidation("Range", $"0-{length - 1}");
        }

        return response;
    }

    private HttpResponseMessage TagPage(Uri uri, string repository)
    {
        var tags = Tags(repository).ToList();
        if (tags.Count == 0)
        {
            return Error(HttpStatusCode.NotFound, "NAME_UNKNOWN", "repository name not known to registry");
        }

        var last = QueryValue(uri.Query, "last");
        var page = tags.Where(t => last is null || string.CompareOrdinal(t, last) > 0).Take(TagPageSize).ToList();
        var json = $"{{\"name\":\"{repository}\",\"tags\":[{string.Join(',', page.Select(t => $"\"{t}\""))}]}}";
        var response = Json(HttpStatusCode.OK, json);
        if (page.Count > 0 && page[^1] != tags[^1])
        {
            response.Headers.TryAddWithoutValidation("Link", $"</v2/{repository}/tags/list?n={TagPageSize}&last={page[^1]}>; rel=\"next\"");
        }

        return response;
    }

    private static string? QueryValue(string query, string name)
    {
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && part[..equals] == name)
            {
                return Uri.UnescapeDataString(part[(equals + 1)..]);
            }
        }

        return null;
    }

    public static HttpResponseMessage Status(HttpStatusCode status) => new(status) { Content = new ByteArrayContent([]) };

    public static HttpResponseMessage Error(HttpStatusCode status, string code, string message) =>
        Json(status, $"{{\"errors\":[{{\"code\":\"{code}\",\"message\":\"{message}\",\"detail\":null}}]}}");

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
}

public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? Authorization, string? Range, string Accept, string? ContentRange, string? ContentType, int BodyLength);

/// <summary>Serves the first bytes of a body, then fails like a dropped connection.</summary>
public sealed class CuttingStream : Stream
{
    private readonly byte[] _content;
    private readonly int _cutAfter;
    private int _position;

    public CuttingStream(byte[] content, int cutAfter)
    {
        _content = content;
        _cutAfter = cutAfter;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _content.Length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_position >= _cutAfter)
        {
            throw new IOException("connection reset by peer (injected)");
        }

        var n = Math.Min(count, Math.Min(_cutAfter, _content.Length) - _position);
        Array.Copy(_content, _position, buffer, offset, n);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
