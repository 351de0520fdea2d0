using System.IO.Compression;
using Basalt.Oci.Model;
using Basalt.Platform.Compression;

namespace Basalt.Oci.Layers;

/// <summary>Decides how a layer blob is compressed and opens its uncompressed tar stream.</summary>
public static class LayerDecompression
{
    /// <summary>Compression named by a layer media type (OCI, Docker, nondistributable variants).</summary>
    public static LayerCompression FromMediaType(string mediaType)
    {
        ArgumentNullException.ThrowIfNull(mediaType);
        if (mediaType.EndsWith("+gzip", StringComparison.Ordinal) || mediaType.EndsWith(".gzip", StringComparison.Ordinal))
        {
            return LayerCompression.Gzip;
        }

        return mediaType.EndsWith("+zstd", StringComparison.Ordinal) || mediaType.EndsWith(".zstd", StringComparison.Ordinal)
            ? LayerCompression.Zstd
            : LayerCompression.None;
    }

    /// <summary>Compression recognised from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd), else None.</summary>
    public static LayerCompression Sniff(ReadOnlySpan<byte> prefix)
    {
        if (prefix.Length >= 2 && prefix[0] == 0x1f && prefix[1] == 0x8b)
        {
            return LayerCompression.Gzip;
        }

        return prefix.Length >= 4 && prefix[0] == 0x28 && prefix[1] == 0xb5 && prefix[2] == 0x2f && prefix[3] == 0xfd
            ? LayerCompression.Zstd
            : LayerCompression.None;
    }

    /// <summary>
    /// Compression of a seekable blob: the magic bytes win when they show compression (layers labelled
    /// plain tar are often gzip in practice); a compressed media type whose bytes lack the magic is corrupt.
    /// </summary>
    public static LayerCompression Detect(Stream seekable, string mediaType, string layerName)
    {
        ArgumentNullException.ThrowIfNull(seekable);
        Span<byte> prefix = stackalloc byte[4];
        var start = seekable.Position;
        var read = seekable.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        seekable.Position = start;
        var sniffed = Sniff(prefix[..read]);
        var declared = FromMediaType(mediaType);
        if (sniffed != LayerCompression.None)
        {
            return sniffed;
        }

        if (declared != LayerCompression.None)
        {
            throw new CorruptLayerException(layerName, $"media type {mediaType} says {declared}, but the blob does not start with {declared} magic bytes");
        }

        return LayerCompression.None;
    }

    public static Stream OpenDecompressed(Stream compressed, LayerCompression compression) => compression switch
    {
        LayerCompression.Gzip => new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: false),
        LayerCompression.Zstd => new ZstdDecompressionStream(compressed, leaveOpen: false),
        _ => compressed,
    };
}
