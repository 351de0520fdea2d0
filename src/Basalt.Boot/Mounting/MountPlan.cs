using System.Text.Json.Serialization;
using Basalt.Boot.CommandLine;

namespace Basalt.Boot.Mounting;

/// <summary>
/// What the boot-time mounter will do, in order, as data: printable (<c>basalt boot plan</c>), testable,
/// executed by an <see cref="IMountPlanExecutor"/>. Device paths found at boot are named by slots
/// (<c>${state}</c>) that earlier steps fill.
/// </summary>
public sealed record MountPlan
{
    public required BootMode Mode { get; init; }
    public bool Reset { get; init; }
    public required string CommandLine { get; init; }
    public required IReadOnlyList<MountStep> Steps { get; init; }

    /// <summary>What happens when a required step fails: never a hang.</summary>
    public required FailureAction OnFailure { get; init; }

    /// <summary>Decisions worth telling the reader of the plan (e.g. "mounter disabled by rd.cos.disable").</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>
    /// The layout the plan was made from. At boot the steps after <see cref="ReadConfigStep"/> are planned
    /// again from it plus the cloud-config's layout settings (<see cref="BootPlanner.Replan"/>).
    /// </summary>
    public MountLayout Layout { get; init; } = MountLayout.Default;

    /// <summary>What of the cloud-config's layout settings was not used, and why; the boot goes on without it.</summary>
    public IReadOnlyList<string> ConfigProblems { get; init; } = [];

    /// <summary>The index of the step that ends the first phase (the config is read there), or -1.</summary>
    public int ReadConfigIndex()
    {
        for (var i = 0; i < Steps.Count; i++)
        {
            if (Steps[i] is ReadConfigStep)
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>On a failed required step: say why on the console, point GRUB at the next entry, reboot.</summary>
public sealed record FailureAction
{
    /// <summary>The GRUB entry written as grubenv <c>next_entry</c> before rebooting; null leaves the menu's choice.</summary>
    public string? NextEntry { get; init; }

    public TimeSpan RebootDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The grubenv file, found on the OEM partition.</summary>
    public DeviceReference? EnvironmentDevice { get; init; }

    public string EnvironmentFile { get; init; } = "/grubenv";

    public required string Description { get; init; }
}

/// <summary>One line of <c>/etc/fstab</c> in the new root.</summary>
public sealed record FstabEntry(string Spec, string File, string Type, string Options)
{
    public int Dump { get; init; }
    public int Pass { get; init; }

    public string Format() => $"{Spec}\t{File}\t{Type}\t{Options}\t{Dump}\t{Pass}";
}

/// <summary>One action of the mount plan.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(FindDeviceStep), "find-device")]
[JsonDerivedType(typeof(CheckFileSystemStep), "check-filesystem")]
[JsonDerivedType(typeof(RequireFileStep), "require-file")]
[JsonDerivedType(typeof(DownloadStep), "download")]
[JsonDerivedType(typeof(AttachLoopStep), "attach-loop")]
[JsonDerivedType(typeof(MountFileSystemStep), "mount")]
[JsonDerivedType(typeof(MountOverlayStep), "mount-overlay")]
[JsonDerivedType(typeof(PersistentBindStep), "persistent-bind")]
[JsonDerivedType(typeof(WriteFileStep), "write-file")]
[JsonDerivedType(typeof(WriteFstabStep), "write-fstab")]
[JsonDerivedType(typeof(ReadConfigStep), "read-config")]
[JsonDerivedType(typeof(RunStageStep), "run-stage")]
[JsonDerivedType(typeof(SwitchRootStep), "switch-root")]
public abstract record MountStep
{
    /// <summary>A short stable name, e.g. <c>mount-state</c>; used in logs and tests.</summary>
    public required string Id { get; init; }

    /// <summary>A failed required step triggers the plan's <see cref="MountPlan.OnFailure"/>; others are logged and skipped.</summary>
    public bool Required { get; init; } = true;
}

/// <summary>Waits until a block device with this label/UUID/path exists (no udev needed) and stores its path in <see cref="Slot"/>.</summary>
public sealed record FindDeviceStep(DeviceReference Device, TimeSpan Timeout, string Slot) : MountStep;

/// <summary>
/// <c>e2fsck -p</c> on a read-write filesystem before it is mounted (OEM, persistent): a power cut can
/// leave them dirty. Never fatal. Read-only state partitions and images are not checked: images are
/// written whole and swapped atomically, and a read-only mount does not make them worse.
/// </summary>
public sealed record CheckFileSystemStep(string Device) : MountStep;

/// <summary>Fails the boot early, with a clear message, when the root image is not there.</summary>
public sealed record RequireFileStep(string Path, string Reason) : MountStep;

/// <summary>Live mode: downloads the root squashfs into RAM (<c>/run</c>).</summary>
public sealed record DownloadStep(Uri Url, string Destination) : MountStep;

/// <summary><c>losetup --find --show --read-only FILE</c>; the loop device goes into <see cref="Slot"/>.</summary>
public sealed record AttachLoopStep(string File, string Slot, bool ReadOnly) : MountStep;

/// <summary><c>mount -t TYPE -o OPTIONS SOURCE TARGET</c>, creating the target directory when missing.</summary>
public sealed record MountFileSystemStep(string Source, string Target, string FileSystem, IReadOnlyList<string> Options) : MountStep;

/// <summary>An overlay whose lower dir is the image's own directory and whose upper/work dirs are on the overlay tmpfs.</summary>
public sealed record MountOverlayStep(string Target, string LowerDirectory, string UpperDirectory, string WorkDirectory) : MountStep;

/// <summary>
/// A persistent path: the first time (no <see cref="StateDirectory"/> yet) it is seeded from the image
/// content at <see cref="Target"/> into a temporary sibling and renamed into place; an existing
/// persistent copy is never touched. Then <see cref="StateDirectory"/> is bind-mounted on <see cref="Target"/>.
/// </summary>
public sealed record PersistentBindStep(string Path, string StateDirectory, string Target) : MountStep;

/// <summary>Writes a small file (mode sentinels under <c>/run/cos</c>).</summary>
public sealed record WriteFileStep(string Path, string Content) : MountStep;

/// <summary>Writes the new root's <c>/etc/fstab</c> describing what the mounter mounted.</summary>
public sealed record WriteFstabStep(string Path, IReadOnlyList<FstabEntry> Entries) : MountStep;

/// <summary>
/// The end of the first phase: the partitions that hold cloud-config (the image's <c>/etc/kairos</c>,
/// COS_OEM at <c>/oem</c>, COS_PERSISTENT's <c>/usr/local/cloud-config</c>) are mounted under
/// <see cref="Root"/>; the config is collected there (paths as the new root sees them) with the kernel
/// command line, and the steps after this one are planned again with its layout settings. Never fatal:
/// an unreadable or invalid config leaves the layout as planned.
/// </summary>
public sealed record ReadConfigStep(string Root) : MountStep;

/// <summary>
/// Runs a cloud-config stage against the new root, in the mounter's process, as <c>basalt run-stage STAGE
/// --root ROOT</c> would: files are written under ROOT and commands run chrooted in it. Never fatal.
/// </summary>
public sealed record RunStageStep(string Stage, string Root) : MountStep;

/// <summary>
/// The hand-over: <c>switch_root NEWROOT INIT</c>. The executor checks the init exists and reports the
/// hand-over; the process that is PID 1 in the initramfs performs the <c>exec</c>.
/// </summary>
public sealed record SwitchRootStep(string NewRoot, string Init) : MountStep;
