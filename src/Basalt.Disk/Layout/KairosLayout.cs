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

    /// <summary>Bytes of the files a build puts on COS_PERSISTENT (e.g. a seeded blob store, block-rounded).</summary>
    public long PersistentContentBytes { get; init; }
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

    /// <summary>The least COS_PERSISTENT may have: the policy's minimum, or room for what a build puts there.</summary>
    public static long PersistentBytes(KairosSizingInputs inputs, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        policy ??= KairosSizingPolicy.Default;
        return Math.Max(policy.PersistentMinimumBytes, Ext4Sizing.CapacityFor(inputs.PersistentContentBytes));
    }

    /// <summary>The labels of the partitions every Basalt disk has, in disk order.</summary>
    public static IReadOnlyList<string> StandardLabels { get; } = [GrubLabel, OemLabel, RecoveryLabel, StateLabel, PersistentLabel];

    /// <summary>The default layout for these images; every GUID derives from <paramref name="seed"/>.</summary>
    public static DiskLayout Create(KairosSizingInputs inputs, string seed, KairosSizingPolicy? policy = null) =>
        Create(inputs, seed, KairosPartitionSettings.Default, policy);

    /// <summary>
    /// The layout for these images with the sizes and extra partitions a user asked for (<c>install.partitions</c>,
    /// <c>install.extra-partitions</c>). A requested size below what the contents need is refused with
    /// <see cref="PartitionTooSmallException"/>; COS_PERSISTENT fills the disk unless it is given a size.
    /// </summary>
    public static DiskLayout Create(KairosSizingInputs inputs, string seed, KairosPartitionSettings settings, KairosSizingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfNegative(inputs.ActiveImageBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(inputs.RecoveryImageBytes);
        policy ??= KairosSizingPolicy.Default;
        foreach (var label in settings.Sizes.Keys.Where(label => !StandardLabels.Contains(label, StringComparer.Ordinal)))
        {
            throw new InvalidLayoutException($"a size is given for '{label}', which is not one of {string.Join(", ", StandardLabels)}");
        }

        PartitionSize SizeOf(string label, long needed)
        {
            if (!settings.Sizes.TryGetValue(label, out var requested))
            {
                return PartitionSize.Fixed(needed);
            }

            return requested >= needed ? PartitionSize.Fixed(requested) : throw new PartitionTooSmallException(label, requested, needed);
        }

        var persistent = settings.Sizes.ContainsKey(PersistentLabel)
            ? SizeOf(PersistentLabel, PersistentBytes(inputs, policy))
            : PartitionSize.FillRest(PersistentBytes(inputs, policy));
        var partitions = new List<PartitionSpec>
        {
            new(GrubLabel, FileSystemKind.Vfat, SizeOf(GrubLabel, EfiBytes(inputs, policy)), PartitionTypes.EfiSystem),
            new(OemLabel, FileSystemKind.Ext4, SizeOf(OemLabel, OemBytes(inputs, policy)), PartitionTypes.LinuxFilesystem),
            new(RecoveryLabel, FileSystemKind.Ext4, SizeOf(RecoveryLabel, RecoveryBytes(inputs, policy)), PartitionTypes.LinuxFilesystem),
            new(StateLabel, FileSystemKind.Ext4, SizeOf(StateLabel, StateBytes(inputs, policy)), PartitionTypes.LinuxFilesystem),
            new(PersistentLabel, FileSystemKind.Ext4, persistent, PartitionTypes.LinuxFilesystem),
        };
        foreach (var extra in settings.Extra)
        {
            if (StandardLabels.Contains(extra.Label, StringComparer.Ordinal))
            {
                throw new InvalidLayoutException($"the extra partition '{extra.Label}' has the name of a Basalt partition");
            }

            var size = extra.SizeBytes is { } bytes ? PartitionSize.Fixed(bytes) : PartitionSize.FillRest(ByteSize.MiB);
            partitions.Add(new PartitionSpec(extra.Label, extra.FileSystem, size, PartitionTypes.LinuxFilesystem) { FileSystemLabel = extra.FileSystemLabel });
        }

        if (partitions.Count(partition => partition.Size.Fill) > 1)
        {
            throw new InvalidLayoutException("both COS_PERSISTENT and an extra partition take the rest of the disk; give COS_PERSISTENT a size (install.partitions.persistent.size) or the extra partition a size");
        }

        return new DiskLayout(seed, partitions);
    }

    private static long ImagePartitionBytes(long imageBytes, int slots, KairosSizingPolicy policy)
    {
        var images = checked(imageBytes * slots);
        var headroom = Math.Max(policy.HeadroomMinimumBytes, images * policy.HeadroomPercent / 100);
        return Ext4Sizing.CapacityFor(ByteSize.AlignUp(images, Ext4Sizing.BlockSize) + headroom);
    }
}

/// <summary>An extra partition placed after COS_PERSISTENT (<c>install.extra-partitions</c>).</summary>
/// <param name="Label">GPT partition name.</param>
/// <param name="FileSystem">What it is formatted with.</param>
/// <param name="SizeBytes">Its size; null: the rest of the disk (then COS_PERSISTENT needs a size).</param>
/// <param name="FileSystemLabel">The filesystem label; null: <paramref name="Label"/>.</param>
public sealed record ExtraPartition(string Label, FileSystemKind FileSystem, long? SizeBytes, string? FileSystemLabel = null);

/// <summary>What a user asked of the layout: sizes of the Basalt partitions by label, and extra partitions.</summary>
public sealed record KairosPartitionSettings
{
    public static KairosPartitionSettings Default { get; } = new();

    /// <summary>Requested sizes by GPT label (COS_OEM, COS_STATE…); a label not here gets what its contents need.</summary>
    public IReadOnlyDictionary<string, long> Sizes { get; init; } = new Dictionary<string, long>(StringComparer.Ordinal);

    public IReadOnlyList<ExtraPartition> Extra { get; init; } = [];
}
