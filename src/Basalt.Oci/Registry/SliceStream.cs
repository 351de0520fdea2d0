using Basalt.Oci.Model;

namespace Basalt.Oci.Registry;

/// <summary>
/// Exactly <c>length</c> bytes of a blob's content stream, starting at <c>start</c>, reporting upload
/// progress; a source shorter than the descriptor says is an error rather than a short upload.
/// </summary>
internal sealed class SliceStream : Stream
{
    private readonly Stream _source;
    private readonly Digest _digest;
    private readonly long _start;
    private readonly long _length;
    private readonly IProgress<long>? _progress;
    private long _read;

    public SliceStream(Stream source, Digest digest, long start, long length, IProgress<long>? progress)
    {
        _source = source;
        _digest = digest;
        _start = start;
        _length = length;
        _progress = progress;
        if (source.CanSeek && source.Position != start)
        {
            source.Position = start;
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, _length - _read);
        if (wanted == 0)
        {
            return 0;
        }

        return Advance(_source.Read(buffer[..wanted]));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = (int)Math.Min(buffer.Length, _length - _read);
        if (wanted == 0)
        {
            return 0;
        }

        return Advance(await _source.ReadAsync(buffer[..wanted], cancellationToken).ConfigureAwait(false));
    }

    private int Advance(int read)
    {
        if (read == 0)
        {
            throw new BlobSizeMismatchException(_digest, _start + _length, _start + _read);
        }

        _read += read;
        _progress?.Report(_start + _read);
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
