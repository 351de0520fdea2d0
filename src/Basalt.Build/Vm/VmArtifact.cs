using System.Text;

namespace Basalt.Build.Vm;

/// <summary>What <c>basalt vm</c> was given to boot.</summary>
public enum VmArtifactKind
{
    /// <summary>A raw GPT disk image (<c>basalt build raw|disk</c>).</summary>
    RawDisk,

    /// <summary>A qcow2 disk image (<c>basalt build qcow2</c>).</summary>
    Qcow2Disk,

    /// <summary>An ISO 9660 image, an installer: it boots as a cdrom beside a blank target disk.</summary>
    Iso,

    /// <summary>A netboot directory (<see cref="NetbootDirectory"/>): direct kernel boot beside a blank target disk.</summary>
    Netboot,
}

/// <summary>An artifact on the host, identified by its content rather than its name.</summary>
public sealed record VmArtifact(VmArtifactKind Kind, string Path)
{
    /// <summary>Whether booting it installs onto another disk (so the VM gets a blank one).</summary>
    public bool IsInstaller => Kind is VmArtifactKind.Iso or VmArtifactKind.Netboot;

    public bool IsDisk => Kind is VmArtifactKind.RawDisk or VmArtifactKind.Qcow2Disk;

    /// <summary>The name users see: raw, qcow2, iso, netboot.</summary>
    public string KindName => Kind switch
    {
        VmArtifactKind.RawDisk => "raw",
        VmArtifactKind.Qcow2Disk => "qcow2",
        VmArtifactKind.Iso => "iso",
        _ => "netboot",
    };
}

/// <summary>
/// The netboot directory contract <c>basalt vm</c> boots and <c>basalt build netboot</c> writes: the kernel as
/// <c>vmlinuz</c>, the initramfs as <c>initrd</c>, and optionally the kernel command line (one line of text) as
/// <c>cmdline</c>. Anything else in the directory (squashfs, iPXE script) is for the netboot server.
/// </summary>
public static class NetbootDirectory
{
    public const string KernelName = "vmlinuz";
    public const string InitrdName = "initrd";
    public const string CommandLineName = "cmdline";

    /// <summary>The kernel command line the directory asks for: its <c>cmdline</c> file on one line, or empty.</summary>
    public static string ReadCommandLine(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var path = Path.Combine(directory, CommandLineName);
        if (!File.Exists(path))
        {
            return string.Empty;
        }

        return string.Join(' ', File.ReadAllText(path).Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}

/// <summary>Tells raw disks, qcow2 disks, ISOs and netboot directories apart by their content. Reads only.</summary>
public static class VmArtifactDetector
{
    private const int SectorSize = 512;

    /// <summary>"QFI" and 0xfb: the first bytes of every qcow2 image.</summary>
    private static readonly byte[] Qcow2Magic = [0x51, 0x46, 0x49, 0xFB];

    /// <summary>The ISO 9660 primary volume descriptor's identifier, at byte 32769 (sector 16, offset 1).</summary>
    private const long IsoIdentifierOffset = (16 * 2048) + 1;

    public static VmArtifact Detect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            var missing = new[] { NetbootDirectory.KernelName, NetbootDirectory.InitrdName }
                .Where(name => !File.Exists(Path.Combine(full, name)))
                .ToList();
            if (missing.Count > 0)
            {
                throw new NetbootDirectoryIncompleteException(full, missing);
            }

            return new VmArtifact(VmArtifactKind.Netboot, full);
        }

        if (!File.Exists(full))
        {
            throw new VmArtifactMissingException(full);
        }

        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new VmArtifact(DetectKind(stream, full), full);
    }

    /// <summary>The kind of the file whose content <paramref name="content"/> holds (from its start).</summary>
    public static VmArtifactKind DetectKind(Stream content, string description)
    {
        ArgumentNullException.ThrowIfNull(content);
        var head = new byte[(int)IsoIdentifierOffset + 5];
        var read = content.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var bytes = head.AsSpan(0, read);
        if (bytes.Length >= 4 && bytes[..4].SequenceEqual(Qcow2Magic))
        {
            return VmArtifactKind.Qcow2Disk;
        }

        // A hybrid ISO also carries an MBR/GPT for USB sticks: the volume descriptor decides first.
        if (bytes.Length >= IsoIdentifierOffset + 5 && bytes.Slice((int)IsoIdentifierOffset, 5).SequenceEqual("CD001"u8))
        {
            return VmArtifactKind.Iso;
        }

        if (bytes.Length >= SectorSize + 8 && bytes.Slice(SectorSize, 8).SequenceEqual("EFI PART"u8))
        {
            return VmArtifactKind.RawDisk;
        }

        var what = read == 0 ? "it is empty" : $"it starts with {Describe(bytes[..Math.Min(8, bytes.Length)])}";
        throw new UnknownArtifactKindException(description, what);
    }

    private static string Describe(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (var value in bytes)
        {
            text.Append(value.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}
