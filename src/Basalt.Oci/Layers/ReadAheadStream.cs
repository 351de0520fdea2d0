using System.Buffers;
using System.Threading.Channels;

namespace Basalt.Oci.Layers;

/// <summary>
/// Reads its source on a task of its own, a few chunks ahead of the reader, so the work behind the source (gunzip or
/// zstd, and the diff_id hash) runs on one core while the reader (tar parsing, file writes) runs on another. A failure
/// of the source is raised to the reader at the point it reaches it. Read-only, forward-only.
/// </summary>
internal sealed class ReadAheadStream : Stream
{
    private const int ChunkBytes = 1 << 18;

    private readonly Stream _source;
    private readonly Channel<(byte[] Buffer, int Count)> _chunks;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;
    private byte[]? _current;
    private int _offset;
    private int _count;
    private bool _ended;

    /// <param name="source">The stream to read ahead; disposed with this one.</param>
    /// <param name="chunksAhead">How many chunks of 256 KiB may wait for the reader (the memory bound).</param>
    public ReadAheadStream(Stream source, int chunksAhead = 8)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunksAhead, 1);
        _source = source;
        _chunks = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(chunksAhead) { SingleReader = true, SingleWriter = true });
        _producer = Task.Run(ProduceAsync);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty || !EnsureChunk(CancellationToken.None).AsTask().GetAwaiter().GetResult())
        {
            return 0;
        }

        return CopyOut(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty || !await EnsureChunk(cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        return CopyOut(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            DisposeCoreAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await DisposeCoreAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private async ValueTask DisposeCoreAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _producer.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidDataException or ChannelClosedException or OciException)
        {
            // The reader stopped early or already saw this failure; nothing is left to read.
        }

        while (_chunks.Reader.TryRead(out var chunk))
        {
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
        }

        Return();
        await _source.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task ProduceAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                int read;
                try
                {
                    read = await _source.ReadAtLeastAsync(buffer.AsMemory(0, ChunkBytes), ChunkBytes, throwOnEndOfStream: false, _stop.Token).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }

                if (read == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }

                await _chunks.Writer.WriteAsync((buffer, read), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            _chunks.Writer.TryComplete(failure is OperationCanceledException ? null : failure);
        }
    }

    private async ValueTask<bool> EnsureChunk(CancellationToken cancellationToken)
    {
        if (_current is not null && _offset < _count)
        {
            return true;
        }

        Return();
        if (_ended)
        {
            return false;
        }

        try
        {
            if (await _chunks.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && _chunks.Reader.TryRead(out var chunk))
            {
                (_current, _offset, _count) = (chunk.Buffer, 0, chunk.Count);
                return true;
            }
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }

        _ended = true;
        return false;
    }

    private int CopyOut(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _count - _offset);
        _current.AsSpan(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }

    private void Return()
    {
        if (_current is not null)
        {
            ArrayPool<byte>.Shared.Return(_current);
            _current = null;
        }
    }
}
