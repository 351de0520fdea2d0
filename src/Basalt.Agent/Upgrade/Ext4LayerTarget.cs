using Basalt.Disk.FileSystems.Ext4;
using Basalt.Oci.Layers;

namespace Basalt.Agent.Upgrade;

/// <summary>Layer entries written straight into an ext4 image: the upgrade's transition image, with no tree on disk.</summary>
internal sealed class Ext4LayerTarget : ILayerEntryTarget
{
    private readonly Ext4ImageWriter _writer;

    public Ext4LayerTarget(Ext4ImageWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
    }

    public bool? IsDirectory(string path) => _writer.KindOf(path) is { } kind ? kind == Ext4NodeKind.Directory : null;

    public IReadOnlyList<string>? ListDirectory(string path) => _writer.ListDirectory(path);

    public void AddDirectory(string path, TarEntryHeader entry) => _writer.AddDirectory(path, MetadataOf(entry));

    public Task AddFileAsync(string path, TarEntryHeader entry, Stream content, CancellationToken cancellationToken) =>
        _writer.AddFileAsync(path, MetadataOf(entry), content, entry.Size, cancellationToken);

    public void AddSymbolicLink(string path, TarEntryHeader entry) =>
        _writer.AddSymbolicLink(path, MetadataOf(entry), entry.LinkName);

    public void AddHardLink(string path, string existingPath) => _writer.AddHardLink(path, existingPath);

    public void AddSpecial(string path, TarEntryHeader entry)
    {
        var kind = entry.Kind switch
        {
            TarEntryKind.CharacterDevice => Ext4NodeKind.CharacterDevice,
            TarEntryKind.BlockDevice => Ext4NodeKind.BlockDevice,
            TarEntryKind.Fifo => Ext4NodeKind.Fifo,
            _ => throw new ArgumentOutOfRangeException(nameof(entry), entry.Kind, "a device node or a FIFO"),
        };
        _writer.AddSpecial(path, kind, MetadataOf(entry), entry.DeviceMajor, entry.DeviceMinor);
    }

    public bool Remove(string path) => _writer.Remove(path);

    public override string ToString() => _writer.Path;

    private static Ext4EntryMetadata MetadataOf(TarEntryHeader entry) =>
        new(entry.Mode, entry.UserId, entry.GroupId, entry.ModifiedTime) { AccessTime = entry.AccessTime, ExtendedAttributes = entry.ExtendedAttributes };
}
