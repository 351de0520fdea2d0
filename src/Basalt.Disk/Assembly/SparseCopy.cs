using Basalt.Platform;
using Microsoft.Win32.SafeHandles;

namespace Basalt.Disk.Assembly;

/// <summary>
/// Copies a file into a region of another file, skipping every all-zero block, so a sparse image stays
/// sparse in the disk (what <c>dd conv=notrunc,sparse</c> does). The destination region must read as zeros
/// already (a freshly extended file), since skipped blocks are not written.
/// </summary>
public static class SparseCopy
{
    public const int BlockSize = 4096;
    private const int ChunkSize = 1024 * 1024;

    /// <summary>
    /// Copies <paramref name="source"/> to the new file <paramref name="destination"/> of the same length, as sparse as
    /// the source; returns the bytes written. An existing <paramref name="destination"/> is an error, never overwritten.
    /// </summary>
    public static long CopyFile(string source, string destination, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(destination);
        using var handle = File.OpenHandle(destination, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        RandomAccess.SetLength(handle, new FileInfo(source).Length);
        return Copy(source, handle, 0, cancellationToken);
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="destinationOffset"/>; returns the bytes actually written.</summary>
    public static long Copy(string source, SafeFileHandle destination, long destinationOffset, CancellationToken cancellationToken = default) =>
        Copy(source, destination, destinationOffset, skipZeroBlocks: true, cancellationToken);

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="destinationOffset"/>; with <paramref name="skipZeroBlocks"/> false
    /// every block is written (a destination such as a disk that does not read as zeros). Returns the bytes written.
    /// </summary>
    public static long Copy(string source, SafeFileHandle destination, long destinationOffset, bool skipZeroBlocks, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(destinationOffset);
        using var input = File.OpenHandle(source, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var length = RandomAccess.GetLength(input);
        var buffer = new byte[ChunkSize];
        if (!skipZeroBlocks)
        {
            return CopyRange(input, 0, length, destination, destinationOffset, buffer, skipZeroBlocks, cancellationToken);
        }

        // The destination reads as zeros where nothing is written, so the source's holes are skipped without being read.
        long written = 0, position = 0;
        while (position < length && Posix.NextDataRegion(input, position) is { } region)
        {
            var end = Math.Min(region.End, length);
            written += CopyRange(input, region.Start, end, destination, destinationOffset, buffer, skipZeroBlocks, cancellationToken);
            position = end;
        }

        return written;
    }

    private static long CopyRange(SafeFileHandle input, long start, long end, SafeFileHandle destination, long destinationOffset, byte[] buffer, bool skipZeroBlocks, CancellationToken cancellationToken)
    {
        long position = start, written = 0;
        while (position < end)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var wanted = (int)Math.Min(ChunkSize, end - position);
            var read = ReadFully(input, buffer.AsSpan(0, wanted), position);
            if (read == 0)
            {
                break;
            }

            if (skipZeroBlocks)
            {
                written += WriteNonZeroRuns(destination, buffer.AsSpan(0, read), destinationOffset + position);
            }
            else
            {
                RandomAccess.Write(destination, buffer.AsSpan(0, read), destinationOffset + position);
                written += read;
            }

            position += read;
        }

        return written;
    }

    /// <summary>Writes the runs of non-zero blocks of <paramref name="data"/>; returns the bytes written.</summary>
    internal static long WriteNonZeroRuns(SafeFileHandle destination, ReadOnlySpan<byte> data, long offset)
    {
        long written = 0;
        var runStart = -1;
        for (var block = 0; block < data.Length; block += BlockSize)
        {
            var blockLength = Math.Min(BlockSize, data.Length - block);
            var isZero = data.Slice(block, blockLength).IndexOfAnyExcept((byte)0) < 0;
            if (!isZero && runStart < 0)
            {
                runStart = block;
            }
            else if (isZero && runStart >= 0)
            {
                RandomAccess.Write(destination, data[runStart..block], offset + runStart);
                written += block - runStart;
                runStart = -1;
            }
        }

        if (runStart >= 0)
        {
            RandomAccess.Write(destination, data[runStart..], offset + runStart);
            written += data.Length - runStart;
        }

        return written;
    }

    private static int ReadFully(SafeFileHandle input, Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = RandomAccess.Read(input, buffer[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
