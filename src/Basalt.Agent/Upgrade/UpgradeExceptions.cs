using Basalt.Disk;

namespace Basalt.Agent.Upgrade;

/// <summary>No upgrade source was given on the command line nor in the cloud-config.</summary>
public sealed class UpgradeSourceMissingException : AgentException
{
    public UpgradeSourceMissingException()
        : base("no upgrade source given", "pass --source oci:REF (or dir:, file:, ocifile:), or set upgrade.source in the cloud-config")
    {
    }

    public override string Kind => "upgrade-source-missing";
}

/// <summary>The source cannot be resolved to an image with a known digest; nothing was changed.</summary>
public sealed class UpgradeSourceUnavailableException : AgentException
{
    public UpgradeSourceUnavailableException(string source, string reason, string? hint, Exception? inner = null)
        : base($"the upgrade source {source} cannot be resolved: {reason}", hint ?? "check the reference and that the registry is reachable; nothing was changed", inner)
    {
        SourceText = source;
    }

    public string SourceText { get; }

    public override string Kind => "upgrade-source-unavailable";
}

/// <summary>A partition has too little free space for what the operation must write there; nothing was changed.</summary>
public sealed class NotEnoughSpaceException : AgentException
{
    public NotEnoughSpaceException(string partition, string path, long neededBytes, long availableBytes, string what)
        : base(
            $"{partition} ({path}) has {ByteSize.Format(availableBytes)} free; {what} needs {ByteSize.Format(neededBytes)}",
            $"free at least {ByteSize.Format(neededBytes - availableBytes)} on {partition}; nothing was changed")
    {
        Partition = partition;
        NeededBytes = neededBytes;
        AvailableBytes = availableBytes;
    }

    public string Partition { get; }

    public long NeededBytes { get; }

    public long AvailableBytes { get; }

    public override string Kind => "not-enough-space";
}

/// <summary>Less memory is available than the operation needs; nothing was changed.</summary>
public sealed class NotEnoughMemoryException : AgentException
{
    public NotEnoughMemoryException(long neededBytes, long availableBytes)
        : base(
            $"{ByteSize.Format(availableBytes)} of memory is available; the upgrade needs {ByteSize.Format(neededBytes)}",
            "stop workloads to free memory and try again; nothing was changed")
    {
        NeededBytes = neededBytes;
        AvailableBytes = availableBytes;
    }

    public long NeededBytes { get; }

    public long AvailableBytes { get; }

    public override string Kind => "not-enough-memory";
}

/// <summary>A slot image the operation relies on is missing or is not a labelled ext4 image.</summary>
public sealed class SlotImageInvalidException : AgentException
{
    public SlotImageInvalidException(string path, string reason)
        : base($"the slot image {path} cannot be used: {reason}", "is COS_STATE mounted where basalt looks for it? a damaged slot can be redeployed with `basalt reset` from recovery")
    {
        ImagePath = path;
    }

    public string ImagePath { get; }

    public override string Kind => "slot-image-invalid";
}

/// <summary>Boot tries out of the range the GRUB menu can count.</summary>
public sealed class InvalidBootTriesException : AgentException
{
    public InvalidBootTriesException(int tries, int max)
        : base($"boot tries must be between 1 and {max}, not {tries}", "set upgrade.boot_tries to a number from 1 to " + max)
    {
    }

    public override string Kind => "invalid-boot-tries";
}

/// <summary>An interrupted operation could not be completed because what it prepared is gone; it was rolled back.</summary>
public sealed class SwapInterruptedException : AgentException
{
    public SwapInterruptedException(string operation, string reason)
        : base($"the interrupted {operation} could not be completed: {reason}; it was rolled back", "the node still runs its previous image; run the operation again")
    {
    }

    public override string Kind => "swap-interrupted";
}
