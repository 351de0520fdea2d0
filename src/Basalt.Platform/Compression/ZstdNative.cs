using System.Runtime.InteropServices;

namespace Basalt.Platform.Compression;

/// <summary>The libzstd streaming calls both zstd streams use (loaded on first call).</summary>
internal static partial class ZstdNative
{
    private const string Library = "libzstd.so.1";

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct InBuffer
    {
        public byte* Source;
        public nuint Size;
        public nuint Position;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct OutBuffer
    {
        public byte* Destination;
        public nuint Size;
        public nuint Position;
    }

    [LibraryImport(Library)]
    internal static partial nint ZSTD_createCStream();

    [LibraryImport(Library)]
    internal static partial nuint ZSTD_freeCStream(nint stream);

    [LibraryImport(Library)]
    internal static partial nuint ZSTD_initCStream(nint stream, int level);

    [LibraryImport(Library)]
    internal static partial nuint ZSTD_CStreamOutSize();

    [LibraryImport(Library)]
    internal static unsafe partial nuint ZSTD_compressStream2(nint stream, OutBuffer* output, InBuffer* input, int endOperation);

    [LibraryImport(Library)]
    internal static partial nint ZSTD_createDStream();

    [LibraryImport(Library)]
    internal static partial nuint ZSTD_freeDStream(nint stream);

    [LibraryImport(Library)]
    internal static partial nuint ZSTD_DStreamInSize();

    [LibraryImport(Library)]
    internal static unsafe partial nuint ZSTD_decompressStream(nint stream, OutBuffer* output, InBuffer* input);

    [LibraryImport(Library)]
    internal static partial uint ZSTD_isError(nuint code);

    [LibraryImport(Library)]
    internal static partial nint ZSTD_getErrorName(nuint code);
}
