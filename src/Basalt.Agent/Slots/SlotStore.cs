using System.Text.Json;
using Basalt.Platform;

namespace Basalt.Agent.Slots;

/// <summary>
/// The slots file (<see cref="Node.NodePaths.SlotsFile"/>): what each slot holds, replaced atomically
/// (temporary sibling, fsync, rename) so a power cut leaves either the old table or the new one.
/// A missing file is an empty table (a node installed before slots were tracked).
/// </summary>
public sealed class SlotStore
{
    /// <summary>The format version written; a newer file is refused rather than misread.</summary>
    public const int FormatVersion = 1;

    public SlotStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    public SlotTable Read()
    {
        if (!File.Exists(Path))
        {
            return SlotTable.Empty;
        }

        byte[] content;
        try
        {
            content = File.ReadAllBytes(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SlotsFileUnreadableException(Path, e.Message, e);
        }

        return Parse(content);
    }

    public async Task<SlotTable> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Path))
        {
            return SlotTable.Empty;
        }

        byte[] content;
        try
        {
            content = await File.ReadAllBytesAsync(Path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SlotsFileUnreadableException(Path, e.Message, e);
        }

        return Parse(content);
    }

    public void Write(SlotTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "/");
        AtomicFile.WriteAllBytes(Path, Serialize(table));
    }

    public async Task WriteAsync(SlotTable table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "/");
        var content = Serialize(table);
        await AtomicFile.WriteAsync(Path, (stream, ct) => stream.WriteAsync(content, ct).AsTask(), cancellationToken).ConfigureAwait(false);
    }

    public static byte[] Serialize(SlotTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return JsonSerializer.SerializeToUtf8Bytes(new SlotsDocument(FormatVersion, table.Slots), AgentJsonContext.Default.SlotsDocument);
    }

    private SlotTable Parse(byte[] content)
    {
        SlotsDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(content, AgentJsonContext.Default.SlotsDocument);
        }
        catch (JsonException e)
        {
            throw new SlotsFileUnreadableException(Path, $"it is not valid JSON ({e.Message})", e);
        }

        if (document is null || document.Slots is null)
        {
            throw new SlotsFileUnreadableException(Path, "it holds no slots list");
        }

        if (document.Version != FormatVersion)
        {
            throw new SlotsFileUnreadableException(Path, $"it has format version {document.Version}; this basalt reads version {FormatVersion}");
        }

        foreach (var slot in document.Slots)
        {
            if (!SlotNames.IsKnown(slot.Slot) || string.IsNullOrEmpty(slot.ImageReference))
            {
                throw new SlotsFileUnreadableException(Path, $"it has an entry for slot '{slot.Slot}' with image '{slot.ImageReference}'; slots are {string.Join(", ", SlotNames.All)} and need an image reference");
            }
        }

        if (document.Slots.GroupBy(s => s.Slot, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            throw new SlotsFileUnreadableException(Path, $"it describes slot '{duplicate.Key}' more than once");
        }

        return SlotTable.From(document.Slots);
    }
}

/// <summary>The slots file on disk.</summary>
public sealed record SlotsDocument(int Version, IReadOnlyList<SlotInfo> Slots);

public sealed class SlotsFileUnreadableException : AgentException
{
    public SlotsFileUnreadableException(string path, string reason, Exception? inner = null)
        : base($"the slots file {path} cannot be read: {reason}", "the next upgrade rewrites it; until then `basalt state` cannot name the images in the slots", inner)
    {
    }

    public override string Kind => "slots-file";
}
