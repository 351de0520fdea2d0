using System.Runtime.InteropServices;

namespace Basalt.Platform.Compression;

/// <summary>libzstd (libzstd.so.1) is not installed, so zstd-compressed content cannot be read.</summary>
public sealed class ZstdUnavailableException : BasaltException
{
    public ZstdUnavailableException(Exception inner)
        : base("cannot read zstd-compressed data: the zstd library libzstd.so.1 is not installed",
               "install it: apt-get install -y libzstd1", inner)
    {
    }

    public override string Kind => "zstd-unavailable";
}

/// <summary>
/// A read-only stream that decompresses a zstd stream (one or more frames) from an inner stream,
/// using libzstd's streaming API. Corrupt or truncated input raises <see cref="InvalidDataException"/>,
/// like <see cref="System.IO.Compression.GZipStream"/> does.
/// </summary>
public sealed class ZstdDecompressionStream : Stream
{

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly byte[] _input;
    private nint _context;
    private int _inputPosition;
    private int _inputLength;
    private bool _innerExhausted;
    private bool _atFrameBoundary;
    private bool _disposed;

    public ZstdDecompressionStream(Stream inner, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        try
        {
            _context = ZstdNative.ZSTD_createDStream();
            _input = new byte[(int)Math.Min(ZstdNative.ZSTD_DStreamInSize(), 1 << 20)];
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
            throw new InsufficientMemoryException("ZSTD_createDStream failed");
        }
    }

    public override bool CanRead => !_disposed;
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
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            if (_inputPosition == _inputLength && !_innerExhausted)
            {
                _inputLength = _inner.Read(_input, 0, _input.Length);
                _inputPosition = 0;
                _innerExhausted = _inputLength == 0;
            }

            var produced = Step(buffer, out var done);
            if (produced > 0 || done)
            {
                return produced;
            }
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            if (_inputPosition == _inputLength && !_innerExhausted)
            {
                _inputLength = await _inner.ReadAsync(_input.AsMemory(), cancellationToken).ConfigureAwait(false);
                _inputPosition = 0;
                _innerExhausted = _inputLength == 0;
            }

            var produced = Step(buffer.Span, out var done);
            if (produced > 0 || done)
            {
                return produced;
            }
        }
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
        if (!_disposed)
        {
            _disposed = true;
            if (_context != 0)
            {
                _ = ZstdNative.ZSTD_freeDStream(_context);
                _context = 0;
            }

            if (disposing && !_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>One decompression call; <paramref name="done"/> when the input ended at a frame boundary.</summary>
    private unsafe int Step(Span<byte> output, out bool done)
    {
        done = false;
        nuint hint;
        int produced;
        fixed (byte* inputPointer = _input)
        fixed (byte* outputPointer = output)
        {
            var inBuffer = new ZstdNative.InBuffer { Source = inputPointer, Size = (nuint)_inputLength, Position = (nuint)_inputPosition };
            var outBuffer = new ZstdNative.OutBuffer { Destination = outputPointer, Size = (nuint)output.Length, Position = 0 };
            hint = ZstdNative.ZSTD_decompressStream(_context, &outBuffer, &inBuffer);
            if (ZstdNative.ZSTD_isError(hint) != 0)
            {
                throw new InvalidDataException($"corrupt zstd data: {Marshal.PtrToStringUTF8(ZstdNative.ZSTD_getErrorName(hint))}");
            }

            var consumed = (int)inBuffer.Position - _inputPosition;
            _inputPosition = (int)inBuffer.Position;
            produced = (int)outBuffer.Position;
            if (hint == 0)
            {
                _atFrameBoundary = true; // the frame was fully decoded and flushed
            }
            else if (consumed > 0 || produced > 0)
            {
                _atFrameBoundary = false;
            }
        }

        if (produced == 0 && _innerExhausted && _inputPosition == _inputLength)
        {
            // Input that ends anywhere but after a complete frame was cut.
            if (!_atFrameBoundary)
            {
                throw new InvalidDataException("truncated zstd data: the input ended inside a frame");
            }

            done = true;
        }

        return produced;
    }
}
