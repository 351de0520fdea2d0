using System.Buffers.Binary;
using System.Text;
using Basalt.Disk.FileSystems;
using Basalt.Platform;

namespace Basalt.Agent.Upgrade;

/// <summary>The filesystem labels the boot menu and the mounter expect on each image file.</summary>
public static class SlotLabels
{
    public const string Active = "COS_ACTIVE";
    public const string Passive = "COS_PASSIVE";
    public const string System = "COS_SYSTEM";
}

/// <summary>
/// What the lifecycle does to slot image files themselves: read an ext4 image's label from its superblock (a plain
/// read; no mount, no loop device), relabel it with <c>tune2fs</c>, and flush it.
/// </summary>
public sealed class SlotImageFiles
{
    public const string Tune2fs = Ext4ImageBuilder.Tune2fsTool;
    public const string Package = "e2fsprogs";

    private const int SuperblockOffset = 1024;
    private const int MagicOffset = 0x38;
    private const int LabelOffset = 0x78;
    private const int LabelLength = 16;
    private const ushort Ext4Magic = 0xEF53;

    private readonly IToolRunner _runner;

    public SlotImageFiles(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
    }

    /// <summary>The ext2/3/4 label of the image at <paramref name="path"/>; null when the file is no ext filesystem.</summary>
    public static string? ReadLabel(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Span<byte> superblock = stackalloc byte[LabelOffset + LabelLength];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length < SuperblockOffset + superblock.Length)
        {
            return null;
        }

        stream.Position = SuperblockOffset;
        stream.ReadExactly(superblock);
        if (BinaryPrimitives.ReadUInt16LittleEndian(superblock[MagicOffset..]) != Ext4Magic)
        {
            return null;
        }

        var label = superblock.Slice(LabelOffset, LabelLength);
        var end = label.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? label : label[..end]);
    }

    /// <summary>True when <paramref name="path"/> is a whole ext filesystem image labelled <paramref name="label"/>.</summary>
    public static bool HasLabel(string path, string label) => File.Exists(path) && ReadLabel(path) == label;

    /// <summary>Sets the label (a single superblock write by tune2fs) and flushes the file.</summary>
    public async Task RelabelAsync(string path, string label, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(label);
        if (ReadLabel(path) is null)
        {
            throw new SlotImageInvalidException(path, "it is not an ext4 filesystem image");
        }

        if (_runner.Locate(Tune2fs) is null)
        {
            throw new ToolNotFoundException(Tune2fs, Package);
        }

        await _runner.RunAsync(new ToolInvocation(Tune2fs, ["-L", label, path]) { Package = Package }, cancellationToken).ConfigureAwait(false);
        Posix.Sync(path);
    }

    /// <summary>Whether tune2fs is present (asked before anything is touched).</summary>
    public bool CanRelabel => _runner.Locate(Tune2fs) is not null;
}
