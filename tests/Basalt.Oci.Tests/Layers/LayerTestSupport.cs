using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>Builds layer tars in memory with the BCL's TarWriter, as an independent producer.</summary>
internal sealed class TarBuilder : IDisposable
{
    public static readonly DateTimeOffset Time = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private const UnixFileMode FileMode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirMode755 = FileMode644 | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly MemoryStream _buffer = new();
    private readonly TarWriter _writer;

    public TarBuilder(TarEntryFormat format = TarEntryFormat.Pax)
    {
        Format = format;
        _writer = new TarWriter(_buffer, format, leaveOpen: true);
    }

    public TarEntryFormat Format { get; }

    public TarBuilder File(string name, string content, UnixFileMode mode = FileMode644)
    {
        var entry = NewEntry(TarEntryType.RegularFile, name);
        entry.Mode = mode;
        entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
        _writer.WriteEntry(entry);
        return this;
    }

    public TarBuilder Directory(string name, UnixFileMode mode = DirMode755)
    {
        var entry = NewEntry(TarEntryType.Directory, name);
        entry.Mode = mode;
        _writer.WriteEntry(entry);
        return this;
    }

    public TarBuilder Symlink(string name, string target)
    {
        var entry = NewEntry(TarEntryType.SymbolicLink, name);
        entry.LinkName = target;
        entry.Mode = DirMode755 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
        _writer.WriteEntry(entry);
        return this;
    }

    public TarBuilder HardLink(string name, string target)
    {
        var entry = NewEntry(TarEntryType.HardLink, name);
        entry.LinkName = target;
        entry.Mode = FileMode644;
        _writer.WriteEntry(entry);
        return this;
    }

    public TarBuilder CharacterDevice(string name, int major, int minor)
    {
        var entry = (PosixTarEntry)NewEntry(TarEntryType.CharacterDevice, name);
        entry.DeviceMajor = major;
        entry.DeviceMinor = minor;
        entry.Mode = FileMode644;
        _writer.WriteEntry(entry);
        return this;
    }

    public TarBuilder Fifo(string name)
    {
        var entry = NewEntry(TarEntryType.Fifo, name);
        entry.Mode = FileMode644;
        _writer.WriteEntry(entry);
        return this;
    }

    public byte[] ToArray()
    {
        _writer.Dispose();
        return _buffer.ToArray();
    }

    public void Dispose()
    {
        _writer.Dispose();
        _buffer.Dispose();
    }

    private TarEntry NewEntry(TarEntryType type, string name)
    {
        TarEntry entry = Format switch
        {
            TarEntryFormat.Gnu => new GnuTarEntry(type, name),
            TarEntryFormat.Ustar => new UstarTarEntry(type, name),
            _ => new PaxTarEntry(type, name),
        };
        entry.ModificationTime = Time;
        return entry;
    }
}

internal static class LayerFiles
{
    public static LayerBlob Write(TempDirectory temp, string fileName, byte[] tar, LayerCompression compression = LayerCompression.None, Digest? diffId = null)
    {
        var path = temp.Combine(fileName);
        var bytes = compression == LayerCompression.Gzip ? Gzip(tar) : tar;
        System.IO.File.WriteAllBytes(path, bytes);
        var mediaType = compression switch
        {
            LayerCompression.Gzip => MediaTypes.OciLayerGzip,
            LayerCompression.Zstd => MediaTypes.OciLayerZstd,
            _ => MediaTypes.OciLayer,
        };
        return new LayerBlob(path, mediaType, diffId);
    }

    public static byte[] Gzip(byte[] content)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return buffer.ToArray();
    }

    /// <summary>The unpack left neither a target nor a staging directory behind.</summary>
    public static void AssertNothingLeft(string parent, string targetName)
    {
        Assert.False(System.IO.Directory.Exists(Path.Combine(parent, targetName)), "the target must not exist after a failed unpack");
        Assert.Empty(System.IO.Directory.EnumerateFileSystemEntries(parent, $".{targetName}.staging-*"));
    }

    public static string ReadText(string path) => System.IO.File.ReadAllText(path);
}
