using System.Buffers;
using System.Globalization;
using System.Text;

namespace Basalt.Oci.Layers;

/// <summary>What a tar entry creates.</summary>
public enum TarEntryKind
{
    RegularFile,
    Directory,
    SymbolicLink,
    HardLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
}

/// <summary>
/// One tar entry with every PAX/GNU override already applied. Extended attribute values are raw
/// bytes: System.Formats.Tar decodes PAX values as UTF-8 text, which corrupts binary values such as
/// <c>security.capability</c>, so Basalt reads and writes the tar headers itself.
/// </summary>
public sealed record TarEntryHeader
{
    public required string Name { get; init; }
    public required TarEntryKind Kind { get; init; }
    public UnixFileMode Mode { get; init; }
    public int UserId { get; init; }
    public int GroupId { get; init; }
    public long Size { get; init; }
    public DateTimeOffset ModifiedTime { get; init; }
    public DateTimeOffset? AccessTime { get; init; }
    public string LinkName { get; init; } = string.Empty;
    public uint DeviceMajor { get; init; }
    public uint DeviceMinor { get; init; }
    public IReadOnlyDictionary<string, byte[]> ExtendedAttributes { get; init; } = new Dictionary<string, byte[]>(StringComparer.Ordinal);
}

/// <summary>Streaming reader of ustar, PAX and GNU tar archives (long names, base-256 numbers).</summary>
internal sealed class TarStreamReader
{
    private const int Block = 512;
    private readonly Stream _stream;
    private readonly string _layer;
    private readonly byte[] _header = new byte[Block];
    private long _remaining;
    private int _padding;
    private BoundedReadStream? _current;

    public TarStreamReader(Stream stream, string layer)
    {
        _stream = stream;
        _layer = layer;
    }

    /// <summary>Data of the entry last returned; reading it is optional.</summary>
    public Stream DataStream => _current ?? throw new InvalidOperationException("no current entry");

    public async ValueTask<TarEntryHeader?> GetNextEntryAsync(CancellationToken cancellationToken)
    {
        await SkipCurrentAsync(cancellationToken).ConfigureAwait(false);
        var pax = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string? longName = null;
        string? longLink = null;
        while (true)
        {
            var read = await ReadFullyAsync(_header, cancellationToken).ConfigureAwait(false);
            if (read == 0 && pax.Count == 0 && longName is null && longLink is null)
            {
                return null; // end of stream at a block boundary without an end marker: accepted, like Go and GNU tar
            }

            if (read < Block)
            {
                throw new CorruptLayerException(_layer, "the tar stream is truncated inside a header");
            }

            if (_header.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            {
                return null;
            }

            VerifyChecksum();
            var type = (char)_header[156];
            var size = ParseNumber(_header.AsSpan(124, 12), "size");
            var name = ReadName();
            switch (type)
            {
                case 'x':
                    ParsePax(await ReadSmallPayloadAsync(size, name, cancellationToken).ConfigureAwait(false), pax, name);
                    continue;
                case 'g':
                    // Global headers carry comments (git archive) in practice; per-entry overrides are what matter.
                    _ = await ReadSmallPayloadAsync(size, name, cancellationToken).ConfigureAwait(false);
                    continue;
                case 'L':
                    longName = TrimNul(await ReadSmallPayloadAsync(size, name, cancellationToken).ConfigureAwait(false));
                    continue;
                case 'K':
                    longLink = TrimNul(await ReadSmallPayloadAsync(size, name, cancellationToken).ConfigureAwait(false));
                    continue;
                default:
                    break;
            }

            var entryName = pax.TryGetValue("path", out var paxPath) ? Encoding.UTF8.GetString(paxPath) : longName ?? name;
            var kind = type switch
            {
                '0' or '\0' or '7' => TarEntryKind.RegularFile,
                '1' => TarEntryKind.HardLink,
                '2' => TarEntryKind.SymbolicLink,
                '3' => TarEntryKind.CharacterDevice,
                '4' => TarEntryKind.BlockDevice,
                '5' or 'D' => TarEntryKind.Directory,
                '6' => TarEntryKind.Fifo,
                'S' => throw new UnsupportedLayerEntryException(_layer, entryName, "GNU sparse file encoding"),
                'M' => throw new UnsupportedLayerEntryException(_layer, entryName, "multi-volume continuation"),
                'V' => throw new UnsupportedLayerEntryException(_layer, entryName, "a tape volume header"),
                _ => throw new UnsupportedLayerEntryException(_layer, entryName, $"tar entry type '{type}'"),
            };
            if (pax.Keys.Any(k => k.StartsWith("GNU.sparse.", StringComparison.Ordinal)))
            {
                throw new UnsupportedLayerEntryException(_layer, entryName, "GNU sparse file encoding (PAX)");
            }

            if (pax.TryGetValue("size", out var paxSize))
            {
                size = ParseDecimal(paxSize, "size", entryName);
            }

            var mtime = pax.TryGetValue("mtime", out var paxMtime)
                ? ParseTime(paxMtime, entryName)
                : DateTimeOffset.FromUnixTimeSeconds(ParseNumber(_header.AsSpan(136, 12), "mtime"));
            DateTimeOffset? atime = pax.TryGetValue("atime", out var paxAtime) ? ParseTime(paxAtime, entryName) : null;
            var xattrs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var (key, value) in pax)
            {
                if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                {
                    xattrs[key["SCHILY.xattr.".Length..]] = value;
                }
            }

            foreach (var (key, value) in pax)
            {
                // libarchive writes base64 values under URL-encoded names; SCHILY wins when both are present.
                if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
                {
                    var attribute = Uri.UnescapeDataString(key["LIBARCHIVE.xattr.".Length..]);
                    if (!xattrs.ContainsKey(attribute))
                    {
                        try
                        {
                            xattrs[attribute] = Convert.FromBase64String(Encoding.ASCII.GetString(value));
                        }
                        catch (FormatException e)
                        {
                            throw new CorruptLayerException(_layer, $"entry '{entryName}' has a malformed LIBARCHIVE.xattr value", e);
                        }
                    }
                }
            }

            var header = new TarEntryHeader
            {
                Name = entryName,
                Kind = kind,
                Mode = (UnixFileMode)(ParseNumber(_header.AsSpan(100, 8), "mode") & 0xFFF),
                UserId = pax.TryGetValue("uid", out var paxUid) ? (int)ParseDecimal(paxUid, "uid", entryName) : (int)ParseNumber(_header.AsSpan(108, 8), "uid"),
                GroupId = pax.TryGetValue("gid", out var paxGid) ? (int)ParseDecimal(paxGid, "gid", entryName) : (int)ParseNumber(_header.AsSpan(116, 8), "gid"),
                Size = kind == TarEntryKind.RegularFile ? size : 0,
                ModifiedTime = mtime,
                AccessTime = atime,
                LinkName = pax.TryGetValue("linkpath", out var paxLink) ? Encoding.UTF8.GetString(paxLink) : longLink ?? TrimNul(_header.AsSpan(157, 100)),
                DeviceMajor = (uint)ParseNumber(_header.AsSpan(329, 8), "devmajor"),
                DeviceMinor = (uint)ParseNumber(_header.AsSpan(337, 8), "devminor"),
                ExtendedAttributes = xattrs,
            };

            _remaining = size;
            _padding = (int)((Block - (size % Block)) % Block);
            _current = new BoundedReadStream(_stream, kind == TarEntryKind.RegularFile ? size : 0, _layer, entryName, this);
            return header;
        }
    }

    /// <summary>Reads everything after the end marker, so a digest over the whole stream is complete.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        await SkipCurrentAsync(cancellationToken).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (await _stream.ReadAsync(buffer.AsMemory(0, 1 << 16), cancellationToken).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal void Consumed(int count) => _remaining -= count;

    private async Task SkipCurrentAsync(CancellationToken cancellationToken)
    {
        var toSkip = _remaining + _padding;
        _remaining = 0;
        _padding = 0;
        _current = null;
        if (toSkip == 0)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (toSkip > 0)
            {
                var read = await _stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(toSkip, 1 << 16)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new CorruptLayerException(_layer, "the tar stream is truncated inside an entry's data");
                }

                toSkip -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<byte[]> ReadSmallPayloadAsync(long size, string name, CancellationToken cancellationToken)
    {
        if (size > 16 << 20)
        {
            throw new CorruptLayerException(_layer, $"extended header '{name}' is {size} bytes, more than the 16 MiB Basalt accepts");
        }

        var padded = (int)((size + Block - 1) / Block * Block);
        var buffer = new byte[padded];
        if (await ReadFullyAsync(buffer, cancellationToken).ConfigureAwait(false) < padded)
        {
            throw new CorruptLayerException(_layer, "the tar stream is truncated inside an extended header");
        }

        return buffer.AsSpan(0, (int)size).ToArray();
    }

    private async ValueTask<int> ReadFullyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await _stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    private void VerifyChecksum()
    {
        var recorded = ParseNumber(_header.AsSpan(148, 8), "checksum");
        long unsigned = 0;
        long signed = 0;
        for (var i = 0; i < Block; i++)
        {
            var b = i is >= 148 and < 156 ? (byte)' ' : _header[i];
            unsigned += b;
            signed += (sbyte)b;
        }

        if (recorded != unsigned && recorded != signed)
        {
            throw new CorruptLayerException(_layer, "a tar header has a bad checksum (not a tar, or damaged)");
        }
    }

    private string ReadName()
    {
        var name = TrimNul(_header.AsSpan(0, 100));
        var isPosixUstar = _header.AsSpan(257, 6).SequenceEqual("ustar\0"u8);
        if (isPosixUstar && _header[345] != 0)
        {
            name = TrimNul(_header.AsSpan(345, 155)) + "/" + name;
        }

        return name;
    }

    private long ParseNumber(ReadOnlySpan<byte> field, string what)
    {
        if ((field[0] & 0x80) != 0)
        {
            if (field[0] == 0xff)
            {
                throw new CorruptLayerException(_layer, $"a tar header has a negative {what}");
            }

            long value = field[0] & 0x7f;
            foreach (var b in field[1..])
            {
                if (value > (long.MaxValue >> 8))
                {
                    throw new CorruptLayerException(_layer, $"a tar header's {what} overflows");
                }

                value = (value << 8) | b;
            }

            return value;
        }

        long result = 0;
        foreach (var b in field)
        {
            if (b is 0 or (byte)' ')
            {
                if (result != 0)
                {
                    break;
                }

                continue;
            }

            if (b is < (byte)'0' or > (byte)'7')
            {
                throw new CorruptLayerException(_layer, $"a tar header's {what} field is not octal (not a tar, or damaged)");
            }

            if (result > (long.MaxValue >> 3))
            {
                throw new CorruptLayerException(_layer, $"a tar header's {what} overflows");
            }

            result = (result << 3) | (uint)(b - '0');
        }

        return result;
    }

    private long ParseDecimal(byte[] value, string what, string entry)
    {
        if (!long.TryParse(Encoding.ASCII.GetString(value), NumberStyles.None, CultureInfo.InvariantCulture, out var result))
        {
            throw new CorruptLayerException(_layer, $"entry '{entry}' has a malformed PAX {what}");
        }

        return result;
    }

    private DateTimeOffset ParseTime(byte[] value, string entry)
    {
        var text = Encoding.ASCII.GetString(value);
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            throw new CorruptLayerException(_layer, $"entry '{entry}' has a malformed PAX time '{text}'");
        }

        var whole = decimal.Floor(seconds);
        return DateTimeOffset.FromUnixTimeSeconds((long)whole).AddTicks((long)((seconds - whole) * TimeSpan.TicksPerSecond));
    }

    private void ParsePax(byte[] payload, Dictionary<string, byte[]> pax, string name)
    {
        var span = payload.AsSpan();
        var position = 0;
        while (position < span.Length)
        {
            var space = span[position..].IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(span.Slice(position, space), NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                || length <= space + 1 || position + length > span.Length || span[position + length - 1] != (byte)'\n')
            {
                throw new CorruptLayerException(_layer, $"PAX header '{name}' has a malformed record");
            }

            var record = span.Slice(position + space + 1, length - space - 2);
            var equals = record.IndexOf((byte)'=');
            if (equals <= 0)
            {
                throw new CorruptLayerException(_layer, $"PAX header '{name}' has a record without '='");
            }

            pax[Encoding.UTF8.GetString(record[..equals])] = record[(equals + 1)..].ToArray();
            position += length;
        }
    }

    private static string TrimNul(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private sealed class BoundedReadStream : Stream
    {
        private readonly Stream _inner;
        private readonly string _layer;
        private readonly string _entry;
        private readonly TarStreamReader _owner;
        private long _left;

        public BoundedReadStream(Stream inner, long length, string layer, string entry, TarStreamReader owner)
        {
            _inner = inner;
            _left = length;
            _layer = layer;
            _entry = entry;
            _owner = owner;
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
            if (_left == 0 || buffer.IsEmpty)
            {
                return 0;
            }

            var read = _inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            return Account(read);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_left == 0 || buffer.IsEmpty)
            {
                return 0;
            }

            var read = await _inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken).ConfigureAwait(false);
            return Account(read);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Account(int read)
        {
            if (read == 0)
            {
                throw new CorruptLayerException(_layer, $"the tar stream is truncated inside the data of '{_entry}'");
            }

            _left -= read;
            _owner.Consumed(read);
            return read;
        }
    }
}
