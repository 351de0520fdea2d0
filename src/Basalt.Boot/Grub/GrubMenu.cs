using Basalt.Boot.CommandLine;

namespace Basalt.Boot.Grub;

/// <summary>Where the GRUB files live (Kairos's layout, kept so existing tools find them).</summary>
public static class GrubPaths
{
    /// <summary>On COS_GRUB (the ESP): finds the menu and hands over to it.</summary>
    public const string EfiConfig = "/EFI/BOOT/grub.cfg";
    /// <summary>The menu on COS_STATE (and a copy on COS_RECOVERY), copied from the active image at install/upgrade.</summary>
    public const string MenuConfig = "/grub2/grub.cfg";
    /// <summary>The menu as shipped inside every image.</summary>
    public const string ImageMenuConfig = "/etc/cos/grub.cfg";
    /// <summary>Per-image kernel arguments, sourced by the menu from the image being booted.</summary>
    public const string ImageBootArguments = "/etc/cos/bootargs.cfg";
    /// <summary>grubenv, on COS_OEM.</summary>
    public const string Environment = "/grubenv";
    /// <summary>Vendor (OEM) grubenv, read before <see cref="Environment"/>; on COS_OEM.</summary>
    public const string OemEnvironment = "/grub_oem_env";
    /// <summary>Extra user menu entries sourced after Basalt's (Kairos's <c>/oem/grubcustom</c>).</summary>
    public const string CustomMenu = "/grubcustom";
}

/// <summary>Settings of the generated GRUB menu; <see cref="Default"/> is what Basalt disks use.</summary>
public sealed record GrubMenuOptions
{
    public static GrubMenuOptions Default { get; } = new();

    public int TimeoutSeconds { get; init; } = 5;
    public string DisplayName { get; init; } = "Basalt";
    public int SerialUnit { get; init; }
    public int SerialSpeed { get; init; } = 115200;
    public string KernelPath { get; init; } = "/boot/vmlinuz";
    public string InitrdPath { get; init; } = "/boot/initrd";
    public string StateLabel { get; init; } = BootKeys.StateLabel;
    public string RecoveryLabel { get; init; } = BootKeys.RecoveryLabel;
    public string OemLabel { get; init; } = BootKeys.DefaultOemLabel;

    /// <summary>
    /// Arguments every entry passes. Consoles: screen and serial, the last <c>console=</c> (serial) becomes
    /// <c>/dev/console</c> so headless machines see the boot. A failed boot becomes a reboot so the
    /// menu's fallback (and later boot counting) can act: <c>panic=5</c> reboots after a kernel panic,
    /// <c>systemd.crash_reboot=1</c> after a PID 1 crash, and the Basalt mounter reboots on its own
    /// failures; <c>rd.emergency=reboot rd.shell=0</c> do the same for dracut-built initramfs images.
    /// </summary>
    public IReadOnlyList<string> KernelArguments { get; init; } =
    [
        "console=tty1", "console=ttyS0,115200", "net.ifnames=1",
        $"{BootKeys.CosOemLabel}={BootKeys.DefaultOemLabel}", $"{BootKeys.CosOemTimeout}=10",
        "panic=5", "systemd.crash_reboot=1", "rd.emergency=reboot", "rd.shell=0",
    ];

    /// <summary>What the <c>statereset</c> entry adds to the recovery command line.</summary>
    public IReadOnlyList<string> ResetArguments { get; init; } = [$"{BootKeys.BasaltReset}=unattended"];
}

/// <summary>One root image an entry can boot, tried in order.</summary>
public sealed record GrubBootImage(string Path, IReadOnlyList<string> RootArguments);

/// <summary>One menu entry: the partition to search, the images to try, the grubenv variable with its extra arguments.</summary>
public sealed record GrubMenuEntry(
    string Id,
    string TitleSuffix,
    string ContainerLabel,
    IReadOnlyList<GrubBootImage> Images,
    string ExtraArgumentsVariable,
    IReadOnlyList<string> EntryArguments);

/// <summary>The menu as data: entries in GRUB order (their index is what <c>fallback</c> names).</summary>
public sealed record GrubMenu(GrubMenuOptions Options, IReadOnlyList<GrubMenuEntry> Entries)
{
    public const string ActiveEntry = "cos";
    public const string PassiveEntry = "fallback";
    public const string RecoveryEntry = "recovery";
    public const string ResetEntry = "statereset";

    public static GrubMenu Create(GrubMenuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var recoveryImages = new[]
        {
            new GrubBootImage(BootKeys.RecoverySquashfs, [$"root=live:LABEL={options.RecoveryLabel}", $"{BootKeys.LiveDirectory}=/", $"{BootKeys.LiveSquashImage}={BootKeys.RecoverySquashfs}"]),
            new GrubBootImage(BootKeys.RecoveryImage, [$"root=LABEL={BootKeys.SystemLabel}", $"{BootKeys.ImageFile}={BootKeys.RecoveryImage}"]),
        };
        return new GrubMenu(options,
        [
            new GrubMenuEntry(ActiveEntry, string.Empty, options.StateLabel,
                [new GrubBootImage(BootKeys.ActiveImage, [$"root=LABEL={BootKeys.ActiveLabel}", $"{BootKeys.ImageFile}={BootKeys.ActiveImage}"])],
                GrubEnvironmentKeys.ExtraActiveCmdline, []),
            new GrubMenuEntry(PassiveEntry, " (fallback)", options.StateLabel,
                [new GrubBootImage(BootKeys.PassiveImage, [$"root=LABEL={BootKeys.PassiveLabel}", $"{BootKeys.ImageFile}={BootKeys.PassiveImage}"])],
                GrubEnvironmentKeys.ExtraPassiveCmdline, []),
            new GrubMenuEntry(RecoveryEntry, " recovery", options.RecoveryLabel, recoveryImages, GrubEnvironmentKeys.ExtraRecoveryCmdline, []),
            new GrubMenuEntry(ResetEntry, " state reset (auto)", options.RecoveryLabel, recoveryImages, GrubEnvironmentKeys.ExtraRecoveryCmdline, options.ResetArguments),
        ]);
    }

    /// <summary>The index of an entry, as GRUB's <c>fallback</c> variable wants it.</summary>
    public int IndexOf(string id)
    {
        for (var i = 0; i < Entries.Count; i++)
        {
            if (Entries[i].Id == id)
            {
                return i;
            }
        }

        throw new ArgumentException($"no menu entry '{id}'", nameof(id));
    }
}
