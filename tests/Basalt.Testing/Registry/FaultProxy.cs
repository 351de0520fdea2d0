using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Basalt.Testing;

/// <summary>What the proxy did to one response.</summary>
public enum FaultApplied
{
    None,

    /// <summary>The connection was aborted after <see cref="FaultProxy.CutBlobAfter"/> body bytes.</summary>
    Cut,

    /// <summary>A body byte was flipped (<see cref="FaultProxy.CorruptBlobs"/>).</summary>
    Corrupted,
}

/// <summary>One request that went through the proxy.</summary>
public sealed record ProxiedRequest(string Method, string PathAndQuery, string? Range, int Status, long BodyBytes, FaultApplied Fault);

/// <summary>
/// A loopback HTTP reverse proxy in front of a registry that injects faults into blob downloads
/// (<c>GET /v2/NAME/blobs/DIGEST</c>): it can cut the connection after N body bytes (to prove resume with
/// <c>Range</c>) or flip a body byte (to prove digest checking). Everything else passes through unchanged;
/// the <c>Host</c> header is kept, so the registry's upload <c>Location</c>s point back at the proxy.
/// </summary>
public sealed partial class FaultProxy : IAsyncDisposable
{
    private readonly Uri _upstream;
    private readonly HttpClient _client;
    private readonly ConcurrentQueue<ProxiedRequest> _requests = new();
    private readonly Lock _faultLock = new();
    private LoopbackServer? _server;
    private CutFault? _cut;
    private CorruptFault? _corrupt;
    private int _inFlight;

    private FaultProxy(Uri upstream)
    {
        _upstream = upstream;
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The proxy's base address, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Address => _server?.Address ?? throw new InvalidOperationException("proxy not started");

    /// <summary>The proxy as a registry host for image references: <c>127.0.0.1:PORT</c>.</summary>
    public string Host => $"{Address.Host}:{Address.Port}";

    /// <summary>
    /// The requests handled so far. A request is recorded once its body is sent, and a client can have every byte
    /// before the proxy's copy loop ends: reading waits (a few seconds at most) for requests still in flight.
    /// </summary>
    public IReadOnlyList<ProxiedRequest> Requests
    {
        get
        {
            SpinWait.SpinUntil(() => Volatile.Read(ref _inFlight) == 0, TimeSpan.FromSeconds(5));
            return [.. _requests];
        }
    }

    /// <summary>Blob body bytes sent to clients, faults included.</summary>
    public long BlobBytesServed => Requests.Where(r => BlobPath().IsMatch(r.PathAndQuery) && r.Method == "GET").Sum(r => r.BodyBytes);

    public static async Task<FaultProxy> StartAsync(Uri upstream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        var proxy = new FaultProxy(upstream);
        try
        {
            proxy._server = await LoopbackServer.StartAsync(proxy.ForwardAsync, cancellationToken).ConfigureAwait(false);
            return proxy;
        }
        catch
        {
            await proxy.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The next <paramref name="times"/> blob downloads (of <paramref name="digest"/>, or any blob) are cut:
    /// the proxy sends <paramref name="afterBytes"/> bytes of the body, then aborts the connection.
    /// </summary>
    public void CutBlobAfter(long afterBytes, string? digest = null, int times = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterBytes);
        lock (_faultLock)
        {
            _cut = new CutFault(afterBytes, digest, times);
        }
    }

    /// <summary>
    /// Blob downloads (of <paramref name="digest"/>, or any blob) get the byte at <paramref name="offset"/> of the
    /// response body inverted, <paramref name="times"/> times (default: every time). Length and headers are unchanged.
    /// </summary>
    public void CorruptBlobs(long offset = 0, string? digest = null, int times = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        lock (_faultLock)
        {
            _corrupt = new CorruptFault(offset, digest, times);
        }
    }

    public void ClearFaults()
    {
        lock (_faultLock)
        {
            _cut = null;
            _corrupt = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync().ConfigureAwait(false);
        }

        _client.Dispose();
    }

    [GeneratedRegex("^/v2/(?<name>.+)/blobs/(?<digest>[a-z0-9]+:[a-f0-9]+)$")]
    private static partial Regex BlobPath();

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host",
    };

    private async Task ForwardAsync(HttpContext context)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            await ForwardRecordedAsync(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task ForwardRecordedAsync(HttpContext context)
    {
        var request = context.Request;
        var cancellationToken = context.RequestAborted;
        var pathAndQuery = request.Path.ToUriComponent() + request.QueryString.ToUriComponent();
        using var upstreamRequest = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(_upstream, pathAndQuery));
        var hasBody = request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;
        if (hasBody || request.ContentLength == 0)
        {
            upstreamRequest.Content = new StreamContent(request.Body);
        }

        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Contains(name))
            {
                continue;
            }

            if (!upstreamRequest.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                upstreamRequest.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        upstreamRequest.Headers.Host = request.Host.Value;

        using var response = await _client.SendAsync(upstreamRequest, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!HopByHop.Contains(name))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        var blob = HttpMethods.IsGet(request.Method) ? BlobPath().Match(request.Path.Value ?? string.Empty) : Match.Empty;
        var isBlobBody = blob.Success && response.IsSuccessStatusCode;
        var (cut, corrupt) = isBlobBody ? TakeFaults(blob.Groups["digest"].Value) : (null, null);

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[81920];
        long sent = 0;
        var applied = FaultApplied.None;
        var recorded = false;
        try
        {
            while (true)
            {
                var read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                if (corrupt is { } flip && flip.Offset >= sent && flip.Offset < sent + read)
                {
                    buffer[(int)(flip.Offset - sent)] ^= 0xFF;
                    applied = FaultApplied.Corrupted;
                }

                if (cut is { } cutFault && sent + read >= cutFault.AfterBytes)
                {
                    var allowed = (int)(cutFault.AfterBytes - sent);
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, allowed), cancellationToken).ConfigureAwait(false);
                    await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                    sent += allowed;
                    applied = FaultApplied.Cut;
                    // Recorded before the cut: the connection may linger while the client reads up to the FIN.
                    Record();
                    await CutConnectionAsync(context).ConfigureAwait(false);
                    return;
                }

                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                sent += read;
            }
        }
        finally
        {
            Record();
        }

        void Record()
        {
            if (!recorded)
            {
                recorded = true;
                _requests.Enqueue(new ProxiedRequest(request.Method, pathAndQuery, request.Headers.Range.FirstOrDefault(), (int)response.StatusCode, sent, applied));
            }
        }
    }

    /// <summary>
    /// Ends the connection mid-body so the client has received exactly the bytes sent: a FIN after the data
    /// (a bare abort sends RST, and the kernel then drops data the client has not read yet), then the abort.
    /// </summary>
    private static async Task CutConnectionAsync(HttpContext context)
    {
        // Let Kestrel's output pipe reach the socket before the FIN goes out behind it.
        await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is not null)
        {
            try
            {
                socket.Shutdown(SocketShutdown.Send);
                // The client closes its side once it has read up to the FIN; give it the time to.
                await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted).ConfigureAwait(false);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            catch (OperationCanceledException)
            {
            }
        }

        context.Abort();
    }

    private (CutFault? Cut, CorruptFault? Corrupt) TakeFaults(string digest)
    {
        lock (_faultLock)
        {
            CutFault? cut = null;
            CorruptFault? corrupt = null;
            if (_cut is { Remaining: > 0 } c && (c.Digest is null || c.Digest == digest))
            {
                cut = c;
                _cut = c with { Remaining = c.Remaining - 1 };
            }

            if (_corrupt is { Remaining: > 0 } k && (k.Digest is null || k.Digest == digest))
            {
                corrupt = k;
                _corrupt = k with { Remaining = k.Remaining == int.MaxValue ? int.MaxValue : k.Remaining - 1 };
            }

            return (cut, corrupt);
        }
    }

    private sealed record CutFault(long AfterBytes, string? Digest, int Remaining);

    private sealed record CorruptFault(long Offset, string? Digest, int Remaining);
}
