using System.Formats.Tar;

namespace Basalt.Oci.Layout;

/// <summary>
/// The table of contents of a tar file on disk: where each regular file's data starts and how long it
/// is. Built by one pass over the headers (data is skipped, not read), so an archive of any size is
/// opened in constant memory and each member is then streamed straight from the file.
/// </summary>
internal sealed class TarFileIndex
{
    private const int MaxSymlinkDepth = 16;

    private readonly Dictionary<string, (long Offset, long Length)> _files;
    private readonly Dictionary<string, string> _links;

    private TarFileIndex(string path, Dictionary<string, (long, long)> files, Dictionary<string, string> links)
    {
        Path = path;
        _files = files;
        _links = links;
    }

    public string Path { get; }

    public IEnumerable<string> FileNames => _files.Keys;

    public static TarFileIndex Build(string path)
    {
        var files = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (FileNotFoundException)
        {
            throw new MalformedLayoutException(path, "no such file", "give the path of a tar written by `docker save` or an OCI layout tar");
        }
        catch (DirectoryNotFoundException)
        {
            throw new MalformedLayoutException(path, "no such file", "give the path of a tar written by `docker save` or an OCI layout tar");
        }

        using (stream)
        {
            try
            {
                using var reader = new TarReader(stream, leaveOpen: true);
                while (reader.GetNextEntry(copyData: false) is { } entry)
                {
                    if (entry.EntryType is TarEntryType.Directory or TarEntryType.GlobalExtendedAttributes)
                    {
                        continue;
                    }

                    var name = NormalizeName(path, entry.Name);
                    if (files.ContainsKey(name) || links.ContainsKey(name))
                    {
                        throw new UnsafeArchiveEntryException(path, entry.Name, "appears twice");
                    }

                    switch (entry.EntryType)
                    {
                        case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                            if (entry.DataOffset < 0)
                            {
                                throw new MalformedLayoutException(path, $"entry '{entry.Name}' has no seekable data");
                            }

                            if (entry.DataOffset + entry.Length > stream.Length)
                            {
                                throw new MalformedLayoutException(path, $"entry '{entry.Name}' is truncated", "the tar is incomplete; write it again");
                            }

                            files[name] = (entry.DataOffset, entry.Length);
                            break;
                        case TarEntryType.SymbolicLink:
                            links[name] = ResolveLinkTarget(path, name, entry.LinkName);
                            break;
                        case TarEntryType.HardLink:
                            links[name] = NormalizeName(path, entry.LinkName);
                            break;
                        default:
                            // Devices, fifos and the like have no place in an image archive's own tree; ignore them.
                            break;
                    }
                }
            }
            catch (InvalidDataException exception)
            {
                throw new MalformedLayoutException(path, $"not a valid tar: {exception.Message}", inner: exception);
            }
            catch (EndOfStreamException exception)
            {
                throw new MalformedLayoutException(path, "the tar is truncated", "the tar is incomplete; write it again", exception);
            }
        }

        return new TarFileIndex(path, files, links);
    }

    public bool Contains(string name) => TryLocate(name, out _);

    public long LengthOf(string name) =>
        TryLocate(name, out var location) ? location.Length : throw new LayoutBlobMissingException(Path, $"'{name}'");

    public Stream Open(string name)
    {
        if (!TryLocate(name, out var location))
        {
            throw new LayoutBlobMissingException(Path, $"'{name}' (not in the tar)");
        }

        var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return new FileSliceStream(file, location.Offset, location.Length);
    }

    private bool TryLocate(string name, out (long Offset, long Length) location)
    {
        var current = name;
        for (var depth = 0; depth <= MaxSymlinkDepth; depth++)
        {
            if (_files.TryGetValue(current, out location))
            {
                return true;
            }

            if (!_links.TryGetValue(current, out var target))
            {
                return false;
            }

            current = target;
        }

        throw new UnsafeArchiveEntryException(Path, name, "is a chain of more than 16 links");
    }

    /// <summary>Archive-relative, '/'-separated, no '.' segments; anything that would climb out is rejected.</summary>
    internal static string NormalizeName(string archive, string name)
    {
        if (name.StartsWith('/'))
        {
            throw new UnsafeArchiveEntryException(archive, name, "has an absolute name");
        }

        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                throw new UnsafeArchiveEntryException(archive, name, "climbs out of the archive with '..'");
            }

            parts.Add(part);
        }

        if (parts.Count == 0)
        {
            throw new UnsafeArchiveEntryException(archive, name, "has an empty name");
        }

        return string.Join('/', parts);
    }

    private static string ResolveLinkTarget(string archive, string name, string target)
    {
        if (target.StartsWith('/'))
        {
            throw new UnsafeArchiveEntryException(archive, name, $"is a symlink to the absolute path '{target}'");
        }

        var parts = name.Split('/').SkipLast(1).ToList();
        foreach (var part in target.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    throw new UnsafeArchiveEntryException(archive, name, $"is a symlink pointing out of the archive ('{target}')");
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }
}

/// <summary>A read-only window onto part of a file; owns the file stream.</summary>
internal sealed class FileSliceStream : Stream
{
    private readonly FileStream _file;
    private readonly long _start;
    private readonly long _length;
    private long _position;

    public FileSliceStream(FileStream file, long start, long length)
    {
        _file = file;
        _start = start;
        _length = length;
        _file.Position = start;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var slice = Clamp(buffer.Length);
        if (slice == 0)
        {
            return 0;
        }

        _file.Position = _start + _position;
        var read = _file.Read(buffer[..slice]);
        _position += read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var slice = Clamp(buffer.Length);
        if (slice == 0)
        {
            return 0;
        }

        _file.Position = _start + _position;
        var read = await _file.ReadAsync(buffer[..slice], cancellationToken).ConfigureAwait(false);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        ArgumentOutOfRangeException.ThrowIfNegative(target, nameof(offset));
        _position = Math.Min(target, _length);
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Clamp(int requested) => (int)Math.Min(requested, _length - _position);
}
