using System.Runtime.InteropServices;

namespace Basalt.Platform.Compression;

/// <summary>
/// A write-only stream that zstd-compresses into an inner stream (libzstd streaming API). The frame
/// is finished when the stream is disposed.
/// </summary>
public sealed class ZstdCompressionStream : Stream
{
    private const int ContinueOperation = 0;
    private const int EndOperation = 2;

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly byte[] _output;
    private nint _context;
    private bool _disposed;

    public ZstdCompressionStream(Stream inner, int level = 3, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        try
        {
            _context = ZstdNative.ZSTD_createCStream();
            _output = new byte[(int)Math.Min(ZstdNative.ZSTD_CStreamOutSize(), 1 << 20)];
        }
        catch (DllNotFoundException e)
        {
            throw new ZstdUnavailableException(e);
        }
        catch (EntryPointNotFoundException e)
        {
            throw new ZstdUnavailableException(e);
        }

        if (_context == 0)
        {
            throw new InsufficientMemoryException("ZSTD_createCStream failed");
        }

        ThrowIfError(ZstdNative.ZSTD_initCStream(_context, level));
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_disposed;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var consumed = 0;
        while (consumed < buffer.Length)
        {
            var (read, produced, _) = Compress(buffer[consumed..], ContinueOperation);
            consumed += read;
            _inner.Write(_output, 0, produced);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var consumed = 0;
        while (consumed < buffer.Length)
        {
            var (read, produced, _) = Compress(buffer.Span[consumed..], ContinueOperation);
            consumed += read;
            await _inner.WriteAsync(_output.AsMemory(0, produced), cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            try
            {
                while (true)
                {
                    var (_, produced, remaining) = Compress(ReadOnlySpan<byte>.Empty, EndOperation);
                    await _inner.WriteAsync(_output.AsMemory(0, produced)).ConfigureAwait(false);
                    if (remaining == 0)
                    {
                        break;
                    }
                }

                await _inner.FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                Release();
                if (!_leaveOpen)
                {
                    await _inner.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        GC.SuppressFinalize(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            try
            {
                if (disposing)
                {
                    while (true)
                    {
                        var (_, produced, remaining) = Compress(ReadOnlySpan<byte>.Empty, EndOperation);
                        _inner.Write(_output, 0, produced);
                        if (remaining == 0)
                        {
                            break;
                        }
                    }

                    _inner.Flush();
                }
            }
            finally
            {
                Release();
                if (disposing && !_leaveOpen)
                {
                    _inner.Dispose();
                }
            }
        }

        base.Dispose(disposing);
    }

    private void Release()
    {
        _disposed = true;
        if (_context != 0)
        {
            _ = ZstdNative.ZSTD_freeCStream(_context);
            _context = 0;
        }
    }

    private unsafe (int Consumed, int Produced, nuint Remaining) Compress(ReadOnlySpan<byte> input, int operation)
    {
        fixed (byte* inputPointer = input)
        fixed (byte* outputPointer = _output)
        {
            var inBuffer = new ZstdNative.InBuffer { Source = inputPointer, Size = (nuint)input.Length, Position = 0 };
            var outBuffer = new ZstdNative.OutBuffer { Destination = outputPointer, Size = (nuint)_output.Length, Position = 0 };
            var remaining = ZstdNative.ZSTD_compressStream2(_context, &outBuffer, &inBuffer, operation);
            ThrowIfError(remaining);
            return ((int)inBuffer.Position, (int)outBuffer.Position, remaining);
        }
    }

    private static void ThrowIfError(nuint code)
    {
        if (ZstdNative.ZSTD_isError(code) != 0)
        {
            throw new IOException($"zstd compression failed: {Marshal.PtrToStringUTF8(ZstdNative.ZSTD_getErrorName(code))}");
        }
    }
}
