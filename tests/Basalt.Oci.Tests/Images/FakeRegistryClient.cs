using System.Collections.Concurrent;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;

namespace Basalt.Oci.Tests.Images;

/// <summary>
/// An in-memory registry behind <see cref="IRegistryClient"/>: what tests push can be pulled back, and it
/// counts the blob bytes it serves and receives. (Tests against a real registry live elsewhere.)
/// </summary>
public sealed class FakeRegistryClient : IRegistryClient
{
    private readonly ConcurrentDictionary<Digest, byte[]> _blobs = new();
    private readonly ConcurrentDictionary<string, (byte[] Content, string MediaType)> _manifests = new(StringComparer.Ordinal);
    private long _downloaded;
    private long _uploaded;

    public long BlobBytesDownloaded => Interlocked.Read(ref _downloaded);

    public long BlobBytesUploaded => Interlocked.Read(ref _uploaded);

    public IReadOnlyCollection<Digest> Blobs => [.. _blobs.Keys];

    public Digest AddManifest(ImageReference reference, byte[] content, string mediaType)
    {
        var digest = Digest.Sha256(content);
        _manifests[Key(reference.Repository, digest.Value)] = (content, mediaType);
        if (reference.Tag is not null)
        {
            _manifests[Key(reference.Repository, reference.Tag)] = (content, mediaType);
        }

        return digest;
    }

    public void AddBlob(byte[] content) => _blobs[Digest.Sha256(content)] = content;

    public Task PingAsync(string registry, CancellationToken ct) => Task.CompletedTask;

    public Task<ManifestResponse> GetManifestAsync(ImageReference reference, CancellationToken ct)
    {
        if (!_manifests.TryGetValue(Key(reference.Repository, reference.Reference), out var manifest))
        {
            throw new InvalidOperationException($"fake registry has no manifest {reference}");
        }

        return Task.FromResult(new ManifestResponse(manifest.Content, manifest.MediaType, Digest.Sha256(manifest.Content)));
    }

    public async Task<Digest> ResolveDigestAsync(ImageReference reference, CancellationToken ct) =>
        (await GetManifestAsync(reference, ct)).Digest;

    public async Task DownloadBlobAsync(ImageReference repository, Descriptor blob, string partialPath, IProgress<long>? progress, CancellationToken ct)
    {
        if (!_blobs.TryGetValue(blob.Digest, out var content))
        {
            throw new InvalidOperationException($"fake registry has no blob {blob.Digest}");
        }

        await File.WriteAllBytesAsync(partialPath, content, ct);
        Interlocked.Add(ref _downloaded, content.Length);
        progress?.Report(content.Length);
    }

    public Task<bool> BlobExistsAsync(ImageReference repository, Digest digest, CancellationToken ct) =>
        Task.FromResult(_blobs.ContainsKey(digest));

    public async Task PushBlobAsync(ImageReference repository, Descriptor blob, Func<Stream> openContent, ImageReference? mountFrom, IProgress<long>? progress, CancellationToken ct)
    {
        if (_blobs.ContainsKey(blob.Digest))
        {
            return;
        }

        await using var stream = openContent();
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, ct);
        var content = copy.ToArray();
        if (Digest.Sha256(content) != blob.Digest || content.Length != blob.Size)
        {
            throw new InvalidOperationException($"pushed content does not match {blob.Digest}");
        }

        _blobs[blob.Digest] = content;
        Interlocked.Add(ref _uploaded, content.Length);
        progress?.Report(content.Length);
    }

    public Task<Digest> PushManifestAsync(ImageReference reference, byte[] content, string mediaType, CancellationToken ct) =>
        Task.FromResult(AddManifest(reference, content, mediaType));

    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference repository, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<string>>([.. _manifests.Keys.Where(k => k.StartsWith(repository.Repository + ":", StringComparison.Ordinal)).Select(k => k[(repository.Repository.Length + 1)..]).Where(t => !t.StartsWith("sha256:", StringComparison.Ordinal))]);

    private static string Key(string repository, string reference) => $"{repository}:{reference}";
}
