using System.Text.Json.Serialization;
using Basalt.Boot.Mounting;

namespace Basalt.Boot.CommandLine;

[JsonConverter(typeof(JsonStringEnumConverter<BootMode>))]
public enum BootMode
{
    /// <summary><c>COS_STATE:/cOS/active.img</c> (fs label COS_ACTIVE).</summary>
    Active,
    /// <summary><c>COS_STATE:/cOS/passive.img</c> (fs label COS_PASSIVE), the previous system.</summary>
    Passive,
    /// <summary><c>COS_RECOVERY:/cOS/recovery.squashfs</c> or <c>/cOS/recovery.img</c> (fs label COS_SYSTEM).</summary>
    Recovery,
    /// <summary>A squashfs from the live medium (ISO) or downloaded at boot; nothing on disk is touched.</summary>
    Live,
}

/// <summary>Where the root image comes from: an image file on a partition, or a squashfs on a medium or URL.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RootImageFormat>))]
public enum RootImageFormat
{
    /// <summary>An ext4 filesystem image (active.img, passive.img, recovery.img).</summary>
    FileSystemImage,
    /// <summary>A squashfs (recovery.squashfs, the live rootfs).</summary>
    Squashfs,
}

/// <summary>
/// What the kernel command line asks the mounter to do, checked and typed. Built by
/// <see cref="From(KernelCommandLine)"/>; every key Basalt reads is listed in <see cref="BootKeys"/>.
/// </summary>
public sealed record BootParameters
{
    public required BootMode Mode { get; init; }

    /// <summary>Unattended reset from the recovery system (the <c>statereset</c> GRUB entry).</summary>
    public bool Reset { get; init; }

    /// <summary>The partition or medium that holds the root image (COS_STATE, COS_RECOVERY, COS_LIVE); null when downloaded.</summary>
    public DeviceReference? ImageContainer { get; init; }

    /// <summary>Path of the root image inside <see cref="ImageContainer"/> (e.g. <c>/cOS/active.img</c>).</summary>
    public string? ImagePath { get; init; }

    public required RootImageFormat ImageFormat { get; init; }

    /// <summary>The <c>root=</c> the command line named (e.g. <c>LABEL=COS_ACTIVE</c>); the fstab spec of <c>/</c>.</summary>
    public DeviceReference? Root { get; init; }

    /// <summary>Live mode: squashfs downloaded at boot (<c>basalt.live.url=</c>).</summary>
    public Uri? LiveUrl { get; init; }

    public string OemLabel { get; init; } = BootKeys.DefaultOemLabel;
    public TimeSpan OemTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for the partition holding the root image.</summary>
    public TimeSpan DeviceTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>rd.cos.disable</c> / <c>rd.immucore.disable</c>: the mounter does nothing.</summary>
    public bool Disabled { get; init; }

    public bool Debug { get; init; }

    /// <summary><c>rd.cos.debugrw</c>: the root image is mounted read-write (debugging only).</summary>
    public bool RootReadWrite { get; init; }

    /// <summary><c>rd.cos.overlay=</c> override of the layout's overlay backing (<c>tmpfs:25%</c>, <c>LABEL=X</c>).</summary>
    public string? OverlayBase { get; init; }

    /// <summary><c>rd.cos.mount=LABEL=X:/path</c> / <c>rd.immucore.mount=</c> extra volumes.</summary>
    public IReadOnlyList<VolumeMount> Mounts { get; init; } = [];

    /// <summary>The command line this was read from.</summary>
    public required string CommandLine { get; init; }

    public static BootParameters Parse(string commandLine) => From(KernelCommandLine.Parse(commandLine));

    public static BootParameters From(KernelCommandLine commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        return BootParametersReader.Read(commandLine);
    }
}

/// <summary>The command-line keys the Basalt mounter reads (Kairos/immucore keys plus Basalt's own).</summary>
public static class BootKeys
{
    public const string Root = "root";
    public const string ImageFile = "cos-img/filename";
    public const string CosOemLabel = "rd.cos.oemlabel";
    public const string ImmucoreOemLabel = "rd.immucore.oemlabel";
    public const string CosOemTimeout = "rd.cos.oemtimeout";
    public const string ImmucoreOemTimeout = "rd.immucore.oemtimeout";
    public const string CosDisable = "rd.cos.disable";
    public const string ImmucoreDisable = "rd.immucore.disable";
    public const string ImmucoreDebug = "rd.immucore.debug";
    public const string CosDebugReadWrite = "rd.cos.debugrw";
    public const string ImmucoreDebugReadWrite = "rd.immucore.debugrw";
    public const string CosOverlay = "rd.cos.overlay";
    public const string ImmucoreOverlay = "rd.immucore.overlay";
    public const string CosMount = "rd.cos.mount";
    public const string ImmucoreMount = "rd.immucore.mount";
    public const string ImmucoreSysrootWait = "rd.immucore.sysrootwait";
    public const string ImmucoreRebootOnFailure = "rd.immucore.rebootonfailure";
    public const string ImmucoreUki = "rd.immucore.uki";
    public const string LiveImage = "rd.live.image";
    public const string LiveDirectory = "rd.live.dir";
    public const string LiveSquashImage = "rd.live.squashimg";
    public const string KairosReset = "kairos.reset";
    public const string BasaltMode = "basalt.mode";
    public const string BasaltLiveUrl = "basalt.live.url";
    public const string BasaltReset = "basalt.reset";
    public const string BasaltDebug = "basalt.debug";

    public const string DefaultOemLabel = "COS_OEM";
    public const string StateLabel = "COS_STATE";
    public const string RecoveryLabel = "COS_RECOVERY";
    public const string PersistentLabel = "COS_PERSISTENT";
    public const string ActiveLabel = "COS_ACTIVE";
    public const string PassiveLabel = "COS_PASSIVE";
    public const string SystemLabel = "COS_SYSTEM";
    public const string LiveLabel = "COS_LIVE";
    public const string ActiveImage = "/cOS/active.img";
    public const string PassiveImage = "/cOS/passive.img";
    public const string RecoveryImage = "/cOS/recovery.img";
    public const string RecoverySquashfs = "/cOS/recovery.squashfs";
    /// <summary>The squashfs on a Basalt live ISO, relative to <c>rd.live.dir</c>.</summary>
    public const string LiveSquashfs = "rootfs.squashfs";

    /// <summary>
    /// The slots file a live medium built from an image carries beside <see cref="LiveSquashfs"/>: it names the image the
    /// squashfs holds, with its digest, which the tree itself cannot tell. A netboot downloads it with the squashfs.
    /// </summary>
    public const string LiveSlots = "slots.json";

    /// <summary>Every <c>basalt.*</c> key; any other <c>basalt.*</c> word is a typo and rejected.</summary>
    public static IReadOnlyList<string> BasaltKeys { get; } = [BasaltMode, BasaltLiveUrl, BasaltReset, BasaltDebug];
}
