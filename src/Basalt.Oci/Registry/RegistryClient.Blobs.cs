using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Basalt.Oci.Model;
using Basalt.Oci.References;

namespace Basalt.Oci.Registry;

public sealed partial class RegistryClient
{
    private const int CopyBufferSize = 128 * 1024;

    public async Task DownloadBlobAsync(ImageReference repository, Descriptor blob, string partialPath, IProgress<long>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentException.ThrowIfNullOrEmpty(partialPath);
        if (blob.Size < 0)
        {
            throw new ArgumentException($"blob {blob.Digest} has a negative size", nameof(blob));
        }

        var path = Path.GetFullPath(partialPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DownloadAttemptAsync(repository, blob, path, progress, ct).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (attempt < _options.MaxAttempts && IsRetryableTransport(ex, ct))
            {
                // What reached the disk stays there; the next attempt resumes after it.
                var delay = Backoff(attempt, null);
                LogRetry(_logger, $"blob {blob.Digest.Short}", attempt, _options.MaxAttempts, ex.Message, delay);
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTransientTransport(ex, ct))
            {
                throw new RegistryProtocolException(
                    $"blob {blob.Digest} from {repository.Registry}/{repository.Repository}: download failed after {attempt} attempts: {ex.Message}",
                    hint: "the connection kept dropping; run the command again, it resumes where it stopped",
                    inner: ex);
            }
        }
    }

    private async Task DownloadAttemptAsync(ImageReference repository, Descriptor blob, string path, IProgress<long>? progress, CancellationToken ct)
    {
        var existing = File.Exists(path) ? new FileInfo(path).Length : 0;
        if (existing > blob.Size)
        {
            File.Delete(path);
            existing = 0;
        }

        var hasher = blob.Digest.CreateHasher();
        try
        {
            if (existing > 0)
            {
                await HashExistingAsync(path, existing, hasher, ct).ConfigureAwait(false);
                progress?.Report(existing);
            }

            if (existing == blob.Size)
            {
                Finish(blob, path, hasher);
                return;
            }

            var uri = BlobUri(repository, blob.Digest);
            var offset = existing;
            using var response = await SendAsync(
                new RegistryRequest(repository.Registry, repository.Repository, [Scopes.Pull(repository.Repository)], () =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Get, uri);
                    if (offset > 0)
                    {
                        request.Headers.Range = new RangeHeaderValue(offset, null);
                    }

                    return request;
                }),
                ct).ConfigureAwait(false);

            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new BlobNotFoundException(repository, blob.Digest, await ReadErrorMessageAsync(response, ct).ConfigureAwait(false));
            }

            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // The registry will not resume what we have: start again from nothing.
                File.Delete(path);
                throw new IOException($"registry refused to resume blob {blob.Digest} at byte {existing} (416)");
            }

            await EnsureSuccessAsync(response, $"GET blob {blob.Digest} from {repository.Registry}/{repository.Repository}", ct).ConfigureAwait(false);
            if (existing > 0 && (response.StatusCode != HttpStatusCode.PartialContent || response.Content.Headers.ContentRange?.From != existing))
            {
                // The registry ignored Range (or answered another range) and sends the blob from its start.
                if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From != 0)
                {
                    File.Delete(path);
                    throw new IOException($"registry answered a range other than the one asked for blob {blob.Digest}");
                }

                LogBlob(_logger, blob.Digest.Value, $"registry ignored Range at {existing}, restarting from zero");
                hasher.Dispose();
                hasher = blob.Digest.CreateHasher();
                existing = 0;
            }

            if (response.Content.Headers.ContentLength is { } length && existing + length != blob.Size)
            {
                File.Delete(path);
                throw new BlobSizeMismatchException(blob.Digest, blob.Size, existing + length);
            }

            await StreamToFileAsync(response, blob, path, existing, hasher, progress, ct).ConfigureAwait(false);
            Finish(blob, path, hasher);
        }
        finally
        {
            hasher.Dispose();
        }
    }

    private async Task StreamToFileAsync(HttpResponseMessage response, Descriptor blob, string path, long existing, IncrementalHash hasher, IProgress<long>? progress, CancellationToken ct)
    {
        var total = existing;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1, useAsync: true);
            file.SetLength(existing);
            file.Position = existing;
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            while (true)
            {
                var read = await ReadIdleAsync(body, buffer.AsMemory(0, CopyBufferSize), idle, ct).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                if (total + read > blob.Size)
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                    File.Delete(path);
                    throw new BlobSizeMismatchException(blob.Digest, blob.Size, total + read);
                }

                try
                {
                    await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    throw new BlobWriteException(path, ex);
                }

                hasher.AppendData(buffer, 0, read);
                total += read;
                progress?.Report(total);
            }

            file.Flush(flushToDisk: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (total < blob.Size)
        {
            // A body that ended early without an error: resume on the next attempt.
            throw new IOException($"blob {blob.Digest}: the registry closed the body after {total} of {blob.Size} bytes");
        }
    }

    private static async Task HashExistingAsync(string path, long length, IncrementalHash hasher, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
            var remaining = length;
            while (remaining > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(CopyBufferSize, remaining)), ct).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                hasher.AppendData(buffer, 0, read);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Finish(Descriptor blob, string path, IncrementalHash hasher)
    {
        var actual = Digest.FromHash(blob.Digest.Algorithm, hasher.GetHashAndReset());
        if (actual != blob.Digest)
        {
            File.Delete(path);
            throw new DigestMismatchException(blob.Digest, actual, $"blob {blob.Digest}");
        }

        LogBlob(_logger, blob.Digest.Value, "downloaded and verified");
    }

    public Task<bool> BlobExistsAsync(ImageReference repository, Digest digest, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repository);
        return BlobExistsAsync(repository, digest, [Scopes.Pull(repository.Repository)], ct);
    }

    private async Task<bool> BlobExistsAsync(ImageReference repository, Digest digest, IReadOnlyList<string> scopes, CancellationToken ct)
    {
        var uri = BlobUri(repository, digest);
        using var response = await SendAsync(
            new RegistryRequest(repository.Registry, repository.Repository, scopes, () => new HttpRequestMessage(HttpMethod.Head, uri)),
            ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, $"HEAD blob {digest} in {repository.Registry}/{repository.Repository}", ct).ConfigureAwait(false);
        return true;
    }

    public async Task PushBlobAsync(ImageReference repository, Descriptor blob, Func<Stream> openContent, ImageReference? mountFrom, IProgress<long>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(openContent);
        IReadOnlyList<string> scopes = [Scopes.PullPush(repository.Repository)];
        if (await BlobExistsAsync(repository, blob.Digest, scopes, ct).ConfigureAwait(false))
        {
            LogBlob(_logger, blob.Digest.Value, "already in the registry, skipped");
            progress?.Report(blob.Size);
            return;
        }

        var mount = mountFrom is not null
            && mountFrom.Registry.Equals(repository.Registry, StringComparison.OrdinalIgnoreCase)
            && mountFrom.Repository != repository.Repository
                ? mountFrom
                : null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var location = await StartUploadAsync(repository, blob, mount, ct).ConfigureAwait(false);
                if (location is null)
                {
                    LogBlob(_logger, blob.Digest.Value, $"mounted from {mount}");
                    progress?.Report(blob.Size);
                    return;
                }

                if (blob.Size <= _options.MonolithicLimit)
                {
                    await PutMonolithicAsync(repository, blob, location, openContent, progress, ct).ConfigureAwait(false);
                }
                else
                {
                    await PutChunkedAsync(repository, blob, location, openContent, progress, ct).ConfigureAwait(false);
                }

                LogBlob(_logger, blob.Digest.Value, "uploaded");
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && IsUploadRetryable(ex))
            {
                var cause = Unwrap(ex);
                if (attempt >= _options.MaxAttempts)
                {
                    throw new RegistryProtocolException(
                        $"push of blob {blob.Digest} to {repository.Registry}/{repository.Repository} failed after {attempt} attempts: {cause.Message}",
                        hint: "the registry kept failing; try again later",
                        inner: cause);
                }

                var delay = Backoff(attempt, (cause as RetryableUploadException)?.RetryAfter);
                LogRetry(_logger, $"push of blob {blob.Digest.Short}", attempt, _options.MaxAttempts, cause.Message, delay);
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (Unwrap(ex) is BlobSizeMismatchException mismatch)
            {
                // The content stream, not the network, was wrong; HttpClient wrapped the error on its way out.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(mismatch);
                throw;
            }
        }
    }

    /// <summary>Opens an upload session (or mounts); returns its location, or null when the mount succeeded.</summary>
    private async Task<Uri?> StartUploadAsync(ImageReference repository, Descriptor blob, ImageReference? mount, CancellationToken ct)
    {
        var uploads = UploadsUri(repository);
        var uri = mount is null
            ? uploads
            : new Uri(uploads, $"?mount={Uri.EscapeDataString(blob.Digest.Value)}&from={Uri.EscapeDataString(mount.Repository)}");
        IReadOnlyList<string> scopes = mount is null
            ? [Scopes.PullPush(repository.Repository)]
            : [Scopes.PullPush(repository.Repository), Scopes.Pull(mount.Repository)];
        using var response = await SendAsync(
            new RegistryRequest(repository.Registry, repository.Repository, scopes, () =>
                new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent([]) }),
            ct).ConfigureAwait(false);
        if (mount is not null && response.StatusCode == HttpStatusCode.Created)
        {
            return null;
        }

        await EnsureSuccessAsync(response, $"start upload of blob {blob.Digest} to {repository.Registry}/{repository.Repository}", ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new RegistryProtocolException($"start upload of blob {blob.Digest}: registry answered {(int)response.StatusCode}, expected 202", response.StatusCode);
        }

        return UploadLocation(response, uri);
    }

    private async Task PutMonolithicAsync(ImageReference repository, Descriptor blob, Uri location, Func<Stream> openContent, IProgress<long>? progress, CancellationToken ct)
    {
        var source = openContent();
        await using (source.ConfigureAwait(false))
        {
            var uri = WithDigest(location, blob.Digest);
            using var response = await SendAsync(
                new RegistryRequest(repository.Registry, repository.Repository, [Scopes.PullPush(repository.Repository)], () =>
                    new HttpRequestMessage(HttpMethod.Put, uri) { Content = SliceContent(source, blob, 0, blob.Size, progress) })
                { Replayable = false },
                ct).ConfigureAwait(false);
            await ExpectCreatedAsync(response, repository, blob, ct).ConfigureAwait(false);
        }
    }

    private async Task PutChunkedAsync(ImageReference repository, Descriptor blob, Uri location, Func<Stream> openContent, IProgress<long>? progress, CancellationToken ct)
    {
        var source = openContent();
        await using (source.ConfigureAwait(false))
        {
            IReadOnlyList<string> scopes = [Scopes.PullPush(repository.Repository)];
            var offset = 0L;
            while (offset < blob.Size)
            {
                var length = Math.Min(_options.ChunkSize, blob.Size - offset);
                var chunkUri = location;
                var start = offset;
                using var response = await SendAsync(
                    new RegistryRequest(repository.Registry, repository.Repository, scopes, () =>
                    {
                        var content = SliceContent(source, blob, start, length, progress);
                        content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + length - 1}");
                        return new HttpRequestMessage(HttpMethod.Patch, chunkUri) { Content = content };
                    })
                    { Replayable = false },
                    ct).ConfigureAwait(false);
                await EnsureSuccessAsync(response, $"PATCH blob {blob.Digest} bytes {start}-{start + length - 1}", ct).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new RegistryProtocolException($"PATCH blob {blob.Digest}: registry answered {(int)response.StatusCode}, expected 202", response.StatusCode);
                }

                if (response.Headers.NonValidated.TryGetValues("Range", out var ranges)
                    && ParseUploadedEnd(ranges.FirstOrDefault()) is { } end && end != start + length - 1)
                {
                    throw new RetryableUploadException($"registry holds bytes 0-{end} of blob {blob.Digest}, expected 0-{start + length - 1}", null);
                }

                location = UploadLocation(response, chunkUri);
                offset += length;
            }

            var finalUri = WithDigest(location, blob.Digest);
            using var final = await SendAsync(
                new RegistryRequest(repository.Registry, repository.Repository, scopes, () =>
                    new HttpRequestMessage(HttpMethod.Put, finalUri) { Content = new ByteArrayContent([]) })
                { Replayable = false },
                ct).ConfigureAwait(false);
            await ExpectCreatedAsync(final, repository, blob, ct).ConfigureAwait(false);
        }
    }

    private async Task ExpectCreatedAsync(HttpResponseMessage response, ImageReference repository, Descriptor blob, CancellationToken ct)
    {
        await EnsureSuccessAsync(response, $"PUT blob {blob.Digest} to {repository.Registry}/{repository.Repository}", ct).ConfigureAwait(false);
        if (HeaderDigest(response) is { } stored && stored.Algorithm == blob.Digest.Algorithm && stored != blob.Digest)
        {
            throw new RegistryProtocolException($"registry {repository.Registry} stored blob {blob.Digest} as {stored}");
        }
    }

    private static StreamContent SliceContent(Stream source, Descriptor blob, long start, long length, IProgress<long>? progress)
    {
        var content = new StreamContent(new SliceStream(source, blob.Digest, start, length, progress), CopyBufferSize);
        content.Headers.ContentLength = length;
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }

    /// <summary>The upload session URL from Location: relative or absolute, keeping its query (registry state).</summary>
    private static Uri UploadLocation(HttpResponseMessage response, Uri requestUri)
    {
        var location = response.Headers.Location
            ?? throw new RegistryProtocolException($"registry answered {(int)response.StatusCode} to {requestUri} without a Location header", response.StatusCode);
        return location.IsAbsoluteUri ? location : new Uri(requestUri, location);
    }

    private static Uri WithDigest(Uri location, Digest digest)
    {
        var builder = new UriBuilder(location);
        var parameter = "digest=" + Uri.EscapeDataString(digest.Value);
        builder.Query = string.IsNullOrEmpty(builder.Query) ? parameter : builder.Query.TrimStart('?') + "&" + parameter;
        return builder.Uri;
    }

    /// <summary>The last byte the registry holds, from a <c>Range: 0-N</c> (or <c>bytes=0-N</c>) answer.</summary>
    internal static long? ParseUploadedEnd(string? range)
    {
        if (string.IsNullOrWhiteSpace(range))
        {
            return null;
        }

        var text = range.Trim();
        if (text.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            text = text[6..];
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && long.TryParse(text[(dash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var end)
            ? end
            : null;
    }

    private static bool IsUploadRetryable(Exception ex) =>
        Unwrap(ex) is not BlobSizeMismatchException
        && ex is RetryableUploadException or IOException or TimeoutException or HttpRequestException;

    private static Exception Unwrap(Exception ex)
    {
        // HttpClient wraps errors thrown by request content (our source stream) in HttpRequestException.
        for (var current = ex.InnerException; current is not null; current = current.InnerException)
        {
            if (current is RetryableUploadException or BlobSizeMismatchException)
            {
                return current;
            }
        }

        return ex;
    }
}
