using Basalt.Platform;

namespace Basalt.Disk;

/// <summary>The disk asked for is smaller than what its contents need. Raised before anything is written.</summary>
public sealed class DiskTooSmallException : DiskException
{
    public DiskTooSmallException(long requestedBytes, long minimumBytes)
        : base($"a disk of {ByteSize.Format(requestedBytes)} is too small: these contents need at least {ByteSize.Format(minimumBytes)} ({minimumBytes} bytes)",
               $"pass --size {ByteSize.FormatMebibytes(minimumBytes)} or larger, or leave --size out to get the minimum")
    {
        RequestedBytes = requestedBytes;
        MinimumBytes = minimumBytes;
    }

    public long RequestedBytes { get; }
    public long MinimumBytes { get; }
    public override string Kind => "disk-too-small";
}

/// <summary>The output directory cannot hold the bytes about to be written. Raised before anything is written.</summary>
public sealed class InsufficientSpaceException : DiskException
{
    public InsufficientSpaceException(string directory, long neededBytes, long availableBytes)
        : base($"'{directory}' has {ByteSize.Format(availableBytes)} free but writing the disk needs {ByteSize.Format(neededBytes)}",
               "free some space there or write the output to another filesystem")
    {
        Directory = directory;
        NeededBytes = neededBytes;
        AvailableBytes = availableBytes;
    }

    public string Directory { get; }
    public long NeededBytes { get; }
    public long AvailableBytes { get; }
    public override string Kind => "insufficient-space";
}

/// <summary>A disk image holds no readable GPT.</summary>
public sealed class InvalidGptException : DiskException
{
    public InvalidGptException(string disk, string reason, Exception? inner = null)
        : base($"no valid GPT on '{disk}': {reason}", "check that the path is a whole-disk image written by Basalt or another GPT tool", inner)
    {
        Disk = disk;
        Reason = reason;
    }

    public string Disk { get; }
    public string Reason { get; }
    public override string Kind => "invalid-gpt";
}

/// <summary>No partition with the label asked for.</summary>
public sealed class PartitionNotFoundException : DiskException
{
    public PartitionNotFoundException(string label, string disk, IEnumerable<string> present)
        : base($"'{disk}' has no partition labelled '{label}' (it has: {string.Join(", ", present.DefaultIfEmpty("none"))})",
               "check the label, or rebuild the disk with the default layout")
    {
        Label = label;
        Disk = disk;
    }

    public string Label { get; }
    public string Disk { get; }
    public override string Kind => "partition-not-found";
}

/// <summary>A layout that cannot be laid out: duplicate labels, two fill partitions, nonsense sizes.</summary>
public sealed class InvalidLayoutException : DiskException
{
    public InvalidLayoutException(string reason)
        : base($"invalid disk layout: {reason}", "fix the partition list of the layout")
    {
    }

    public override string Kind => "invalid-layout";
}

/// <summary>A filesystem image is larger than the partition that should hold it.</summary>
public sealed class ImageTooLargeException : DiskException
{
    public ImageTooLargeException(string label, string image, long imageBytes, long partitionBytes)
        : base($"'{image}' is {ByteSize.Format(imageBytes)} but partition {label} holds only {ByteSize.Format(partitionBytes)}",
               "let Basalt compute the layout from the real image sizes, or give that partition more room")
    {
        Label = label;
        ImageBytes = imageBytes;
        PartitionBytes = partitionBytes;
    }

    public string Label { get; }
    public long ImageBytes { get; }
    public long PartitionBytes { get; }
    public override string Kind => "image-too-large";
}

/// <summary>A directory or image a disk or filesystem is built from does not exist.</summary>
public sealed class DiskSourceNotFoundException : DiskException
{
    public DiskSourceNotFoundException(string path, string role)
        : base($"{role} '{path}' does not exist", "check the path")
    {
        Path = path;
    }

    public string Path { get; }
    public override string Kind => "source-not-found";
}

/// <summary>mkfs.ext4, mksquashfs, mkfs.vfat or mtools failed; carries the tool's stderr.</summary>
public sealed class FileSystemBuildException : DiskException
{
    public FileSystemBuildException(string fileSystem, string target, ToolFailedException inner)
        : base($"building the {fileSystem} filesystem '{target}' failed: {inner?.Message}",
               "read the tool's message above; a full image usually means its size was computed too small", inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        FileSystem = fileSystem;
        Target = target;
        StandardError = inner.StandardError;
    }

    public string FileSystem { get; }
    public string Target { get; }
    public string StandardError { get; }
    public override string Kind => "filesystem-build-failed";
}

/// <summary>qemu-img could not convert the raw disk.</summary>
public sealed class DiskConversionException : DiskException
{
    public DiskConversionException(string format, ToolFailedException inner)
        : base($"converting the disk to {format} failed: {inner?.Message}", "check the free space and the qemu-utils installation", inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        StandardError = inner.StandardError;
    }

    public string StandardError { get; }
    public override string Kind => "disk-convert-failed";
}

/// <summary>losetup could not attach or detach a loop device.</summary>
public sealed class LoopDeviceException : DiskException
{
    public LoopDeviceException(string message, ToolFailedException? inner = null)
        : base(inner is null ? message : $"{message}: {inner.Message}",
               "run as root and check 'losetup -a': this machine has few loop devices, detach the ones left over", inner)
    {
        StandardError = inner?.StandardError ?? string.Empty;
    }

    public string StandardError { get; }
    public override string Kind => "loop-device-failed";
}

/// <summary>mount or umount failed.</summary>
public sealed class MountException : DiskException
{
    public MountException(string message, ToolFailedException inner)
        : base($"{message}: {inner?.Message}", "run as root; check the filesystem type and that nothing still uses the mount point", inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        StandardError = inner.StandardError;
    }

    public string StandardError { get; }
    public override string Kind => "mount-failed";
}

/// <summary>A partition was given a size smaller than its contents need. Raised before anything is written.</summary>
public sealed class PartitionTooSmallException : DiskException
{
    public PartitionTooSmallException(string label, long requestedBytes, long neededBytes)
        : base($"partition {label} was given {ByteSize.Format(requestedBytes)} but its contents need at least {ByteSize.Format(neededBytes)} ({neededBytes} bytes)",
               $"give {label} at least {ByteSize.FormatMebibytes(neededBytes)}, or leave its size out to get what it needs")
    {
        Label = label;
        RequestedBytes = requestedBytes;
        NeededBytes = neededBytes;
    }

    public string Label { get; }
    public long RequestedBytes { get; }
    public long NeededBytes { get; }
    public override string Kind => "partition-too-small";
}

/// <summary>
/// The in-process ext4 writer was asked for something it cannot put into an image: a path through a file, a hard link
/// to nothing, a name longer than ext4 allows, an attribute it has no encoding for, more data than the image may hold.
/// </summary>
public sealed class Ext4WriteException : DiskException
{
    public Ext4WriteException(string target, string problem, string? hint = null, Exception? inner = null)
        : base($"writing the ext4 image '{target}' failed: {problem}", hint ?? "check the content given to the image; the image file was not kept", inner)
    {
        Target = target;
        Problem = problem;
    }

    public string Target { get; }
    public string Problem { get; }
    public override string Kind => "ext4-write-failed";
}

/// <summary>The content given to an ext4 image being written outgrew the room the image may take.</summary>
public sealed class Ext4ImageFullException : DiskException
{
    public Ext4ImageFullException(string target, long neededBytes, long limitBytes)
        : base($"the ext4 image '{target}' needs more than {ByteSize.Format(limitBytes)}, the room it may take (at least {ByteSize.Format(neededBytes)})",
               "free space where the image is written, or make the image smaller")
    {
        Target = target;
        NeededBytes = neededBytes;
        LimitBytes = limitBytes;
    }

    public string Target { get; }
    public long NeededBytes { get; }
    public long LimitBytes { get; }
    public override string Kind => "ext4-image-full";
}
