using Basalt.Oci.Model;

namespace Basalt.Oci.Layers;

/// <summary>
/// Reading one layer blob as a stream of tar entries, for every way layers are applied: decompressed on its own core,
/// its diff_id checked once the last entry is read, errors of the compressed stream and of the tar turned into
/// <see cref="CorruptLayerException"/>; and the names in it split into safe components.
/// </summary>
internal static class LayerReading
{
    public const string WhiteoutPrefix = ".wh.";
    public const string OpaqueWhiteout = ".wh..wh..opq";

    /// <summary>Calls <paramref name="apply"/> for every entry of <paramref name="layer"/> in order; returns the diff_id.</summary>
    public static async Task<Digest> ReadEntriesAsync(
        LayerBlob layer,
        int index,
        int count,
        Func<TarEntryHeader, Stream, CancellationToken, Task> apply,
        IProgress<LayerApplyProgress>? progress,
        CancellationToken cancellationToken)
    {
        var name = layer.DisplayName;
        var file = new FileStream(layer.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var compressedSize = file.Length;
        long entries = 0;
        HashingReadStream hashing;
        try
        {
            var compression = LayerDecompression.Detect(file, layer.MediaType, name);
            // Decompression on one task, the diff_id hash on another, ahead of the tar parsing and the writes here: the
            // decompression alone is the longest stage, so the reader waits on it and nothing else.
            hashing = new HashingReadStream(new ReadAheadStream(LayerDecompression.OpenDecompressed(file, compression)), layer.DiffId?.Algorithm ?? "sha256");
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await using (hashing.ConfigureAwait(false))
        {
            var readAhead = new ReadAheadStream(hashing);
            await using var readAheadScope = readAhead.ConfigureAwait(false);

            // Tar headers are read 512 bytes at a time: buffer them above the read-ahead.
            var reader = new TarStreamReader(new BufferedStream(readAhead, 1 << 16), name);
            var lastReported = 0L;
            try
            {
                while (await reader.GetNextEntryAsync(cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await apply(entry, reader.DataStream, cancellationToken).ConfigureAwait(false);
                    entries++;
                    if (progress is not null && file.Position - lastReported >= 4 << 20)
                    {
                        lastReported = file.Position;
                        progress.Report(new LayerApplyProgress(index, count, name, file.Position, compressedSize, entries, false));
                    }
                }

                await reader.DrainAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw new CorruptLayerException(name, e.Message, e);
            }
            catch (EndOfStreamException e)
            {
                throw new CorruptLayerException(name, "the compressed stream ended early", e);
            }

            var diffId = hashing.GetDigest();
            if (layer.DiffId is { } expected && expected != diffId)
            {
                throw new DigestMismatchException(expected, diffId, $"layer {name} (uncompressed content, diff_id)");
            }

            progress?.Report(new LayerApplyProgress(index, count, name, compressedSize, compressedSize, entries, true));
            return diffId;
        }
    }

    /// <summary>Splits a tar name into components; a leading '/' is dropped, and '..' may not climb above the root.</summary>
    public static List<string> Normalize(string name, string layer, string entryName, string what)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    throw new UnsafeLayerEntryException(layer, entryName, $"{what} climbs out of the root with '..'");
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return parts;
    }
}
