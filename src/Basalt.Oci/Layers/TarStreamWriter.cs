using System.Globalization;
using System.Text;

namespace Basalt.Oci.Layers;

/// <summary>
/// Writes deterministic PAX tar archives: ustar headers, a PAX extended header only when a value
/// does not fit (long or non-ASCII names, big ids or sizes, xattrs), numeric owners without names.
/// </summary>
internal sealed class TarStreamWriter
{
    private const int Block = 512;
    private readonly Stream _output;

    public TarStreamWriter(Stream output)
    {
        _output = output;
    }

    public async Task WriteEntryAsync(TarEntryHeader entry, Stream? data, CancellationToken cancellationToken)
    {
        var pax = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var name = entry.Kind == TarEntryKind.Directory && !entry.Name.EndsWith('/') ? entry.Name + "/" : entry.Name;
        var nameField = FitsAscii(name, 100) ? name : null;
        if (nameField is null)
        {
            pax["path"] = Encoding.UTF8.GetBytes(name);
        }

        var linkField = FitsAscii(entry.LinkName, 100) ? entry.LinkName : null;
        if (linkField is null)
        {
            pax["linkpath"] = Encoding.UTF8.GetBytes(entry.LinkName);
        }

        const long MaxOctal7 = 0x1FFFFF;
        const long MaxOctal11 = 0x1FFFFFFFF;
        if (entry.UserId is < 0 or > (int)MaxOctal7)
        {
            pax["uid"] = Ascii(entry.UserId);
        }

        if (entry.GroupId is < 0 or > (int)MaxOctal7)
        {
            pax["gid"] = Ascii(entry.GroupId);
        }

        if (entry.Size > MaxOctal11)
        {
            pax["size"] = Ascii(entry.Size);
        }

        var seconds = entry.ModifiedTime.ToUnixTimeSeconds();
        if (seconds is < 0 or > MaxOctal11)
        {
            pax["mtime"] = Ascii(seconds);
        }

        foreach (var (attribute, value) in entry.ExtendedAttributes)
        {
            pax["SCHILY.xattr." + attribute] = value;
        }

        if (pax.Count > 0)
        {
            var payload = EncodePax(pax);
            var paxName = "PaxHeaders/" + TruncateAscii(name.TrimEnd('/'), 88);
            var paxHeader = BuildHeader(paxName, 'x', 0b110_100_100, 0, 0, payload.Length, 0, string.Empty, 0, 0);
            await _output.WriteAsync(paxHeader, cancellationToken).ConfigureAwait(false);
            await WritePaddedAsync(payload, cancellationToken).ConfigureAwait(false);
        }

        var type = entry.Kind switch
        {
            TarEntryKind.RegularFile => '0',
            TarEntryKind.HardLink => '1',
            TarEntryKind.SymbolicLink => '2',
            TarEntryKind.CharacterDevice => '3',
            TarEntryKind.BlockDevice => '4',
            TarEntryKind.Directory => '5',
            TarEntryKind.Fifo => '6',
            _ => throw new ArgumentOutOfRangeException(nameof(entry), entry.Kind, "unknown entry kind"),
        };
        var header = BuildHeader(
            nameField ?? TruncateAscii(name, 100),
            type,
            (int)entry.Mode & 0xFFF,
            pax.ContainsKey("uid") ? 0 : entry.UserId,
            pax.ContainsKey("gid") ? 0 : entry.GroupId,
            pax.ContainsKey("size") ? 0 : entry.Size,
            pax.ContainsKey("mtime") ? 0 : seconds,
            linkField ?? TruncateAscii(entry.LinkName, 100),
            entry.DeviceMajor,
            entry.DeviceMinor);
        await _output.WriteAsync(header, cancellationToken).ConfigureAwait(false);

        if (entry.Kind == TarEntryKind.RegularFile && entry.Size > 0)
        {
            ArgumentNullException.ThrowIfNull(data);
            var buffer = new byte[1 << 16];
            var left = entry.Size;
            while (left > 0)
            {
                var read = await data.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException($"'{entry.Name}' shrank while it was being archived");
                }

                await _output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                left -= read;
            }

            var padding = (int)((Block - (entry.Size % Block)) % Block);
            if (padding > 0)
            {
                await _output.WriteAsync(new byte[padding], cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Two zero blocks end the archive.</summary>
    public async Task FinishAsync(CancellationToken cancellationToken) =>
        await _output.WriteAsync(new byte[Block * 2], cancellationToken).ConfigureAwait(false);

    private async Task WritePaddedAsync(byte[] payload, CancellationToken cancellationToken)
    {
        await _output.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        var padding = (Block - (payload.Length % Block)) % Block;
        if (padding > 0)
        {
            await _output.WriteAsync(new byte[padding], cancellationToken).ConfigureAwait(false);
        }
    }

    private static byte[] BuildHeader(string name, char type, int mode, int uid, int gid, long size, long mtime, string linkName, uint major, uint minor)
    {
        var header = new byte[Block];
        Encoding.ASCII.GetBytes(name, header.AsSpan(0, 100));
        Octal(header.AsSpan(100, 8), mode);
        Octal(header.AsSpan(108, 8), uid);
        Octal(header.AsSpan(116, 8), gid);
        Octal(header.AsSpan(124, 12), size);
        Octal(header.AsSpan(136, 12), mtime);
        header[156] = (byte)type;
        Encoding.ASCII.GetBytes(linkName, header.AsSpan(157, 100));
        "ustar\0"u8.CopyTo(header.AsSpan(257));
        "00"u8.CopyTo(header.AsSpan(263));
        Octal(header.AsSpan(329, 8), major);
        Octal(header.AsSpan(337, 8), minor);
        header.AsSpan(148, 8).Fill((byte)' ');
        var sum = 0;
        foreach (var b in header)
        {
            sum += b;
        }

        Octal(header.AsSpan(148, 7), sum);
        return header;
    }

    private static void Octal(Span<byte> field, long value)
    {
        // digits, zero-padded, then a NUL terminator
        var text = Convert.ToString(value, 8).PadLeft(field.Length - 1, '0');
        Encoding.ASCII.GetBytes(text, field);
        field[^1] = 0;
    }

    private static byte[] EncodePax(SortedDictionary<string, byte[]> records)
    {
        using var buffer = new MemoryStream();
        foreach (var (key, value) in records)
        {
            var keyBytes = Encoding.UTF8.GetBytes(key);
            var body = keyBytes.Length + value.Length + 3; // ' ', '=', '\n'
            var length = body + 1;
            while (length != body + length.ToString(CultureInfo.InvariantCulture).Length)
            {
                length = body + length.ToString(CultureInfo.InvariantCulture).Length;
            }

            buffer.Write(Encoding.ASCII.GetBytes(length.ToString(CultureInfo.InvariantCulture) + " "));
            buffer.Write(keyBytes);
            buffer.WriteByte((byte)'=');
            buffer.Write(value);
            buffer.WriteByte((byte)'\n');
        }

        return buffer.ToArray();
    }

    private static byte[] Ascii(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));

    private static bool FitsAscii(string text, int max) => text.Length <= max && Ascii7(text);

    private static bool Ascii7(string text) => text.All(c => c is > '\0' and < (char)0x80);

    private static string TruncateAscii(string text, int max)
    {
        var ascii = new string(text.Select(c => c is > '\0' and < (char)0x80 ? c : '_').ToArray());
        return ascii.Length <= max ? ascii : ascii[..max];
    }
}
