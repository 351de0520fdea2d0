using Basalt.Oci.Model;
using Basalt.Oci.References;

namespace Basalt.Oci.Registry;

/// <summary>A manifest (or index) exactly as the registry served it, verified against its digest.</summary>
public sealed record ManifestResponse(byte[] Content, string MediaType, Digest Digest);

/// <summary>The OCI distribution-spec operations Basalt needs.</summary>
public interface IRegistryClient
{
    /// <summary>GET /v2/ (authenticating when the registry asks for it).</summary>
    Task PingAsync(string registry, CancellationToken ct);

    /// <summary>Fetches a manifest or index by tag or digest; the bytes are verified against the digest.</summary>
    Task<ManifestResponse> GetManifestAsync(ImageReference reference, CancellationToken ct);

    /// <summary>The digest a reference points to (HEAD, falling back to GET).</summary>
    Task<Digest> ResolveDigestAsync(ImageReference reference, CancellationToken ct);

    /// <summary>
    /// Streams a blob to <paramref name="partialPath"/>, resuming from the bytes already there, and verifies
    /// size and digest. On success the verified blob is left at <paramref name="partialPath"/> (flushed to disk);
    /// the caller moves it into place. <paramref name="progress"/> receives the bytes on disk so far.
    /// </summary>
    Task DownloadBlobAsync(ImageReference repository, Descriptor blob, string partialPath, IProgress<long>? progress, CancellationToken ct);

    Task<bool> BlobExistsAsync(ImageReference repository, Digest digest, CancellationToken ct);

    /// <summary>
    /// Uploads a blob unless the registry has it, mounting it from <paramref name="mountFrom"/> when that
    /// repository is on the same registry. <paramref name="openContent"/> may be called more than once (retries).
    /// </summary>
    Task PushBlobAsync(ImageReference repository, Descriptor blob, Func<Stream> openContent, ImageReference? mountFrom, IProgress<long>? progress, CancellationToken ct);

    /// <summary>PUTs a manifest under the reference's tag (or digest) and returns its digest.</summary>
    Task<Digest> PushManifestAsync(ImageReference reference, byte[] content, string mediaType, CancellationToken ct);

    /// <summary>Every tag of the repository, following pagination.</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(ImageReference repository, CancellationToken ct);
}
