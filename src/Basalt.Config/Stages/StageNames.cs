namespace Basalt.Config.Stages;

/// <summary>The stage names of the Kairos/yip contract and how running one expands into sub-stages.</summary>
public static class StageNames
{
    /// <summary>Boot-time stages; running one runs its <c>.before</c>, itself, then its <c>.after</c>.</summary>
    public static IReadOnlyList<string> Boot { get; } = ["rootfs", "initramfs", "fs", "boot", "network", "reconcile"];

    public static IReadOnlyList<string> Lifecycle { get; } =
    [
        "before-install", "after-install-chroot", "after-install",
        "before-upgrade", "after-upgrade-chroot", "after-upgrade",
        "before-reset", "after-reset-chroot", "after-reset",
    ];

    /// <summary>The sub-stages run, in order, when <paramref name="stage"/> is asked for.</summary>
    public static IReadOnlyList<string> Expand(string stage)
    {
        ArgumentException.ThrowIfNullOrEmpty(stage);
        if (Boot.Contains(stage))
        {
            return [stage + ".before", stage, stage + ".after"];
        }

        if (IsKnown(stage))
        {
            return [stage];
        }

        throw new UnknownStageException(stage);
    }

    public static bool IsKnown(string stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        if (Lifecycle.Contains(stage) || Boot.Contains(stage))
        {
            return true;
        }

        var dot = stage.LastIndexOf('.');
        return dot > 0 && Boot.Contains(stage[..dot]) && stage[(dot + 1)..] is "before" or "after";
    }
}
