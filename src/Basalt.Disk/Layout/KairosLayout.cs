using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;

namespace Basalt.Disk.Layout;

/// <summary>The real sizes a Kairos-compatible disk is computed from.</summary>
/// <param name="ActiveImageBytes">Size of <c>cOS/active.img</c> (passive and transition images are the same size).</param>
/// <param name="RecoveryImageBytes">Size of <c>cOS/recovery.squashfs</c> (or recovery.img).</param>
public sealed record KairosSizingInputs(long ActiveImageBytes, long RecoveryImageBytes)
{
    /// <summary>Bytes of the files going on COS_GRUB (EFI binaries, grub.cfg, fonts…).</summary>
    public long EfiContentBytes { get; init; }

    /// <summary>Bytes of the files going on COS_OEM.</summary>
    public long OemContentBytes { get; init; }
}

/// <summary>The rules that turn <see cref="KairosSizingInputs"/> into partition sizes. Defaults follow Kairos.</summary>
public sealed record KairosSizingPolicy
{
    public long EfiMinimumBytes { get; init; } = 64 * ByteSize.MiB;
    public long OemMinimumBytes { get; init; } = 64 * ByteSize.MiB;

    /// <summary>Images COS_STATE holds at once: active, passive, and the transition image of an upgrade.</summary>
    public int StateImageSlots { get; init; } = 3;

    /// <summary>Images COS_RECOVERY holds at once: the recovery image and the transition copy of a recovery upgrade.</summary>
    public int RecoveryImageSlots { get; init; } = 2;

    /// <summary>Extra room on state and recovery, as a percentage of their images…</summary>
    public int HeadroomPercent { get; init; } = 10;

    /// <summary>…but never less than this.</summary>
    public long HeadroomMinimumBytes { get; init; } = 64 * ByteSize.MiB;

    public long PersistentMinimumBytes { get; init; } = 256 * ByteSize.MiB;

    public static KairosSizingPolicy Default { get; } = new();
}

/// <summary>
/// The Kairos partition layout Basalt keeps for compatibility: COS_GRUB (EFI, vfat), COS_OEM, COS_RECOVERY,
/// COS_STATE (ext4) and COS_PERSISTENT (ext4, fills the disk), with sizes computed from the real images.
/// </summary>
public static class KairosLayout
{
    public const string GrubLabel = "COS_GRUB";
    public const string OemLabel = "COS_OEM";
    public const string RecoveryLabel = "COS_RECOVERY";
    public const string StateLabel = "COS_STATE";
    public const string PersistentLabel = "COS_PERSISTENT";

    /// <summary>Filesystem labels of the image files inside COS_STATE and COS_RECOVERY.</summary>
    public const string ActiveImageLabel = "COS_ACTIVE";
    public const string PassiveImageLabel = "COS_PASSIVE";
    public const string RecoveryImageLabel = "COS_SYSTEM";

    public static long StateBytes(KairosSizingInputs inputs, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        policy ??= KairosSizingPolicy.Default;
        return ImagePartitionBytes(inputs.ActiveImageBytes, policy.StateImageSlots, policy);
    }

    public static long RecoveryBytes(KairosSizingInputs inputs, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        policy ??= KairosSizingPolicy.Default;
        return ImagePartitionBytes(inputs.RecoveryImageBytes, policy.RecoveryImageSlots, policy);
    }

    public static long EfiBytes(KairosSizingInputs inputs, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        policy ??= KairosSizingPolicy.Default;

        // FAT keeps two FATs and rounds every file to a cluster: a fifth on top plus 1 MiB covers both.
        var needed = ByteSize.AlignUp(inputs.EfiContentBytes + (inputs.EfiContentBytes / 5) + ByteSize.MiB, ByteSize.MiB);
        return Math.Max(policy.EfiMinimumBytes, needed);
    }

    public static long OemBytes(KairosSizingInputs inputs, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        policy ??= KairosSizingPolicy.Default;
        return Math.Max(policy.OemMinimumBytes, Ext4Sizing.CapacityFor(inputs.OemContentBytes));
    }

    /// <summary>The default layout for these images; every GUID derives from <paramref name="seed"/>.</summary>
    public static DiskLayout Create(KairosSizingInputs inputs, string seed, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentOutOfRangeException.ThrowIfNegative(inputs.ActiveImageBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(inputs.RecoveryImageBytes);
        policy ??= KairosSizingPolicy.Default;
        return new DiskLayout(seed,
        [
            new PartitionSpec(GrubLabel, FileSystemKind.Vfat, PartitionSize.Fixed(EfiBytes(inputs, policy)), PartitionTypes.EfiSystem),
            new PartitionSpec(OemLabel, FileSystemKind.Ext4, PartitionSize.Fixed(OemBytes(inputs, policy)), PartitionTypes.LinuxFilesystem),
            new PartitionSpec(RecoveryLabel, FileSystemKind.Ext4, PartitionSize.Fixed(RecoveryBytes(inputs, policy)), PartitionTypes.LinuxFilesystem),
            new PartitionSpec(StateLabel, FileSystemKind.Ext4, PartitionSize.Fixed(StateBytes(inputs, policy)), PartitionTypes.LinuxFilesystem),
            new PartitionSpec(PersistentLabel, FileSystemKind.Ext4, PartitionSize.FillRest(policy.PersistentMinimumBytes), PartitionTypes.LinuxFilesystem),
        ]);
    }

    private static long ImagePartitionBytes(long imageBytes, int slots, KairosSizingPolicy policy)
    {
        var images = checked(imageBytes * slots);
        var headroom = Math.Max(policy.HeadroomMinimumBytes, images * policy.HeadroomPercent / 100);
        return Ext4Sizing.CapacityFor(ByteSize.AlignUp(images, Ext4Sizing.BlockSize) + headroom);
    }
}
