using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Boot.CommandLine;

namespace Basalt.Agent.State;

/// <summary>
/// What is running: the boot mode the mounter announced (<c>/run/cos/*_mode</c> sentinels) and the slot the
/// menu booted, read from the kernel command line (<c>cos-img/filename</c>, or the recovery squashfs).
/// </summary>
public sealed record RunningSystem(string? BootMode, string? BootedSlot, string? ImageFile)
{
    /// <summary>The sentinel names in the order the mounter could write them; the first present wins.</summary>
    public static IReadOnlyList<string> Modes { get; } = ["active", "passive", "recovery", "live"];

    /// <summary>The slot this boot runs: the command line's answer, else the mounter's mode when it names a slot.</summary>
    public string? Slot => BootedSlot ?? (SlotNames.IsKnown(BootMode) ? BootMode : null);

    public static RunningSystem Read(NodePaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var mode = Modes.FirstOrDefault(m => File.Exists(Path.Combine(paths.SentinelDirectory, m + "_mode")));
        string? commandLine = null;
        try
        {
            commandLine = File.Exists(paths.KernelCommandLine) ? File.ReadAllText(paths.KernelCommandLine) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            commandLine = null;
        }

        var (slot, image) = commandLine is null ? (null, null) : SlotFromCommandLine(commandLine);
        return new RunningSystem(mode, slot, image);
    }

    /// <summary>Which slot a kernel command line boots, and the image file it names; nulls when it names none.</summary>
    public static (string? Slot, string? ImageFile) SlotFromCommandLine(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var line = KernelCommandLine.Parse(commandLine.Trim());
        var image = line.GetValue(BootKeys.ImageFile) ?? line.GetValue(BootKeys.LiveSquashImage);
        var slot = image switch
        {
            BootKeys.ActiveImage => SlotNames.Active,
            BootKeys.PassiveImage => SlotNames.Passive,
            BootKeys.RecoveryImage or BootKeys.RecoverySquashfs => SlotNames.Recovery,
            _ => null,
        };
        return (slot, image);
    }
}
