using Basalt.Oci.Layout;
using Basalt.Oci.Manifests;
using Basalt.Oci.Model;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Oci.Images;

/// <summary>A manifest or index as its source holds it: exact bytes, media type, digest.</summary>
internal sealed record RawDocument(byte[] Content, string MediaType, Digest Digest);

/// <summary>Where the image service gets manifests and blobs from; one per kind of source.</summary>
internal interface IImageProvider : IDisposable
{
    /// <summary>The name the image is kept under in the blob store (absolute paths for local sources).</summary>
    string Name { get; }

    /// <summary>The tag a save uses when the user names none.</summary>
    string DefaultTag { get; }

    /// <summary>Bytes the provider itself stored while building the image (local directories and files).</summary>
    long PreparedBytes { get; }

    /// <summary>True when the provider builds the image's blobs into the store itself, reporting its own progress.</summary>
    bool BuildsLocally { get; }

    /// <summary>The top-level manifest or index.</summary>
    Task<RawDocument> GetRootAsync(CancellationToken cancellationToken);

    /// <summary>A manifest an index points to.</summary>
    Task<RawDocument> GetManifestAsync(Descriptor descriptor, CancellationToken cancellationToken);

    /// <summary>Copies a blob into the store, verified; reports bytes so far.</summary>
    Task FetchBlobAsync(Descriptor blob, BlobStore store, IProgress<long> progress, CancellationToken cancellationToken);
}

/// <summary>An image in a registry.</summary>
internal sealed class RegistryProvider(IRegistryClient client, ImageReference reference) : IImageProvider
{
    public string Name => reference.ToString();

    public string DefaultTag => reference.Tag ?? ImageReference.DefaultTag;

    public long PreparedBytes => 0;

    public bool BuildsLocally => false;

    public async Task<RawDocument> GetRootAsync(CancellationToken cancellationToken)
    {
        var response = await client.GetManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        return new RawDocument(response.Content, response.MediaType, response.Digest);
    }

    public async Task<RawDocument> GetManifestAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        var response = await client.GetManifestAsync(reference.WithDigest(descriptor.Digest), cancellationToken).ConfigureAwait(false);
        if (response.Digest != descriptor.Digest)
        {
            throw new DigestMismatchException(descriptor.Digest, response.Digest, $"manifest of {reference}");
        }

        return new RawDocument(response.Content, response.MediaType, response.Digest);
    }

    public async Task FetchBlobAsync(Descriptor blob, BlobStore store, IProgress<long> progress, CancellationToken cancellationToken)
    {
        var partial = store.GetPartialPath(blob.Digest);
        await client.DownloadBlobAsync(reference, blob, partial, progress, cancellationToken).ConfigureAwait(false);
        store.CommitVerified(blob.Digest, partial);
    }

    public void Dispose()
    {
    }
}

/// <summary>An image in an OCI layout directory, an OCI layout tar, or a docker archive.</summary>
internal sealed class LayoutProvider(IImageLayout layout, string name, string? tag) : IImageProvider
{
    public string Name => name;

    public string DefaultTag => tag ?? ImageReference.DefaultTag;

    public long PreparedBytes => 0;

    public bool BuildsLocally => false;

    public Task<RawDocument> GetRootAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Read(ResolveTop().Descriptor));

    public Task<RawDocument> GetManifestAsync(Descriptor descriptor, CancellationToken cancellationToken) =>
        Task.FromResult(Read(descriptor));

    public async Task FetchBlobAsync(Descriptor blob, BlobStore store, IProgress<long> progress, CancellationToken cancellationToken)
    {
        if (!layout.ContainsBlob(blob.Digest))
        {
            throw new LayoutBlobMissingException(layout.Location, $"blob {blob.Digest}");
        }

        var source = layout.OpenBlob(blob.Digest);
        await using (source.ConfigureAwait(false))
        {
            var counting = new CountingReadStream(source, progress);
            await using (counting.ConfigureAwait(false))
            {
                await store.PutAsync(counting, blob.Digest, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => layout.Dispose();

    /// <summary>
    /// oci-layout: sources always carry a tag (latest by default); a layout holding a single untagged
    /// image (as some tools write) is still found by the default tag.
    /// </summary>
    private LayoutManifest ResolveTop()
    {
        try
        {
            return layout.Resolve(tag);
        }
        catch (LayoutTagNotFoundException) when (tag == ImageReference.DefaultTag && layout.Manifests.Count == 1 && layout.Manifests[0].Tag is null)
        {
            return layout.Manifests[0];
        }
    }

    private RawDocument Read(Descriptor descriptor)
    {
        if (descriptor.Size > ManifestParser.MaxManifestBytes)
        {
            throw new InvalidManifestException($"{descriptor.Digest} is {descriptor.Size} bytes, larger than the {ManifestParser.MaxManifestBytes >> 20} MiB limit");
        }

        byte[] content;
        using (var stream = layout.OpenBlob(descriptor.Digest))
        {
            content = new byte[descriptor.Size];
            var read = stream.ReadAtLeast(content, content.Length, throwOnEndOfStream: false);
            if (read != content.Length || stream.ReadByte() >= 0)
            {
                throw new MalformedLayoutException(layout.Location, $"manifest {descriptor.Digest} is not {descriptor.Size} bytes as its descriptor says");
            }
        }

        var actual = Digest.Sha256(content);
        if (actual != descriptor.Digest)
        {
            throw new DigestMismatchException(descriptor.Digest, actual, $"manifest in {layout.Location}");
        }

        return new RawDocument(content, descriptor.MediaType, actual);
    }
}

/// <summary>Counts bytes read through it, for progress.</summary>
internal sealed class CountingReadStream(Stream inner, IProgress<long> progress) : Stream
{
    private long _read;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        _read += read;
        progress.Report(_read);
        return read;
    }
}
