using System.Globalization;
using System.Text;
using System.Text.Json;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Config.Model;
using Basalt.Config.Stages;
using Basalt.Disk.Layout;

namespace Basalt.Agent.Reset;

/// <summary>Reset was asked outside recovery: the images it rewrites would be the ones running.</summary>
public sealed class NotInRecoveryException : AgentException
{
    public NotInRecoveryException(string sentinel)
        : base($"basalt reset runs only from the recovery system ({sentinel} is missing)", "boot the 'recovery' or 'statereset' entry (basalt bootentry --select recovery, then reboot)")
    {
    }

    public override string Kind => "not-in-recovery";
}

/// <summary>The recovery image or a partition the reset needs was not found. Raised before anything is written.</summary>
public sealed class ResetSourceNotFoundException : AgentException
{
    public ResetSourceNotFoundException(string what, IEnumerable<string> lookedAt)
        : base($"reset cannot find {what} (looked at {string.Join(", ", lookedAt)})", "check that the node was installed by Basalt and that recovery is booted from COS_RECOVERY")
    {
    }

    public override string Kind => "reset-source-not-found";
}

/// <summary>What <c>basalt reset</c> is asked.</summary>
public sealed record ResetRequest
{
    public CloudConfig Config { get; init; } = new();

    /// <summary>
    /// <c>--reset-persistent</c> (true) or <c>--keep-persistent</c> (false); null leaves it to <c>reset.reset-persistent</c>,
    /// which defaults to true as in Kairos: a reset formats COS_PERSISTENT unless told to keep it.
    /// </summary>
    public bool? ResetPersistent { get; init; }

    /// <summary><c>--reset-oem</c> (or <c>reset.reset-oem</c>): format COS_OEM (a fresh grubenv is written to it).</summary>
    public bool ResetOem { get; init; }

    /// <summary><c>--reboot</c>: reboot afterwards even when the config does not ask for it.</summary>
    public bool Reboot { get; init; }

    public IReadOnlyList<StageSource> StageSources { get; init; } = [];

    public NodePaths Paths { get; init; } = NodePaths.Running;

    /// <summary>The sentinel the mounter writes when recovery is booted.</summary>
    public string RecoveryModeSentinel { get; init; } = "/run/cos/recovery_mode";

    /// <summary>Where partition nodes are found by name (<c>by-partlabel</c>, then <c>by-label</c> under it).</summary>
    public string DeviceLinkDirectory { get; init; } = "/dev/disk";

    public string WorkDirectory { get; init; } = Path.GetTempPath();
}

/// <summary>
/// Everything a reset will do: the recovery image the new active and passive images are made from, the partitions it
/// writes, the stages and what happens afterwards. Printed by <c>basalt reset --dry-run</c>; carried out by
/// <see cref="ResetExecutor"/>.
/// </summary>
public sealed record ResetPlan
{
    public required string RecoveryImage { get; init; }

    /// <summary>squashfs or ext4.</summary>
    public required string RecoveryImageType { get; init; }

    public required string StateDevice { get; init; }

    /// <summary>COS_PERSISTENT's node; null when it was not found (then the history cannot be written and persistent cannot be reset).</summary>
    public string? PersistentDevice { get; init; }

    public string? OemDevice { get; init; }

    public required bool ResetPersistent { get; init; }

    public required bool ResetOem { get; init; }

    /// <summary>
    /// The node's grubenv, whose try counters the reset clears when COS_OEM is kept: a slot that ran out of tries
    /// before the reset would otherwise still be skipped by the menu, and the node would boot recovery again.
    /// </summary>
    public string? GrubEnvironment { get; init; }

    public required IReadOnlyList<(string Stage, int Steps)> Stages { get; init; }

    public required PowerAction After { get; init; }

    public required string WorkDirectory { get; init; }

    public int StepsOf(string stage) => Stages.FirstOrDefault(entry => entry.Stage == stage).Steps;

    public IReadOnlyList<string> Steps
    {
        get
        {
            var steps = new List<string>
            {
                $"run stage before-reset ({StepsOf("before-reset")} steps)",
                $"mount {RecoveryImage} ({RecoveryImageType}) read-only as the source tree",
            };
            if (StepsOf("after-reset-chroot") > 0)
            {
                steps.Add($"run stage after-reset-chroot ({StepsOf("after-reset-chroot")} steps) in a copy of the tree");
            }

            steps.Add($"mount {StateDevice} (COS_STATE); make /cOS/passive.img then /cOS/active.img from the tree, each replaced atomically; rewrite the boot menu");
            if (ResetPersistent)
            {
                steps.Add($"format {PersistentDevice} as ext4 {KairosLayout.PersistentLabel}");
            }

            if (ResetOem)
            {
                steps.Add($"format {OemDevice} as ext4 {KairosLayout.OemLabel} with a fresh grubenv");
            }

            steps.Add(PersistentDevice is null ? "no COS_PERSISTENT: no history record" : "append the reset record to the history on COS_PERSISTENT");
            steps.Add($"run stage after-reset ({StepsOf("after-reset")} steps)");
            if (After != PowerAction.None)
            {
                steps.Add(After == PowerAction.Reboot ? "reboot (systemctl reboot)" : "power off (systemctl poweroff)");
            }

            return steps;
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"reset from {RecoveryImage} ({RecoveryImageType}) onto {StateDevice}\n");
        text.Append(CultureInfo.InvariantCulture, $"persistent: {(ResetPersistent ? "formatted" : "kept")}, oem: {(ResetOem ? "formatted" : "kept")}\n");
        text.Append("steps:\n");
        var number = 1;
        foreach (var step in Steps)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {number++}. {step}\n");
        }

        return text.ToString();
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("recoveryImage", RecoveryImage);
            json.WriteString("recoveryImageType", RecoveryImageType);
            json.WriteString("stateDevice", StateDevice);
            json.WriteString("persistentDevice", PersistentDevice);
            json.WriteString("oemDevice", OemDevice);
            json.WriteBoolean("resetPersistent", ResetPersistent);
            json.WriteBoolean("resetOem", ResetOem);
            json.WriteStartObject("stages");
            foreach (var (stage, steps) in Stages)
            {
                json.WriteNumber(stage, steps);
            }

            json.WriteEndObject();
            json.WriteString("after", After.ToString().ToLowerInvariant());
            json.WriteStartArray("steps");
            foreach (var step in Steps)
            {
                json.WriteStringValue(step);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>Turns a <see cref="ResetRequest"/> into a <see cref="ResetPlan"/>; reads only, refuses before anything is written.</summary>
public static class ResetPlanner
{
    private static readonly string[] ResetStages = ["before-reset", "after-reset-chroot", "after-reset"];

    public static ResetPlan Plan(ResetRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!File.Exists(request.RecoveryModeSentinel))
        {
            throw new NotInRecoveryException(request.RecoveryModeSentinel);
        }

        var paths = request.Paths;
        var (image, type) = File.Exists(paths.RecoverySquashfs) ? (paths.RecoverySquashfs, "squashfs")
            : File.Exists(paths.RecoveryImage) ? (paths.RecoveryImage, "ext4")
            : throw new ResetSourceNotFoundException("the recovery image", [paths.RecoverySquashfs, paths.RecoveryImage]);

        var reset = request.Config.Reset;
        var askedPersistent = request.ResetPersistent ?? reset?.ResetPersistent;
        var resetPersistent = askedPersistent ?? true;
        var resetOem = request.ResetOem || reset?.ResetOem == true;
        var state = FindPartition(request.DeviceLinkDirectory, KairosLayout.StateLabel)
            ?? throw new ResetSourceNotFoundException(KairosLayout.StateLabel, Candidates(request.DeviceLinkDirectory, KairosLayout.StateLabel));
        var persistent = FindPartition(request.DeviceLinkDirectory, KairosLayout.PersistentLabel);
        if (persistent is null && askedPersistent is null)
        {
            // Formatting by default only what is there: a node without COS_PERSISTENT resets its images only.
            resetPersistent = false;
        }

        if (resetPersistent && persistent is null)
        {
            throw new ResetSourceNotFoundException(KairosLayout.PersistentLabel, Candidates(request.DeviceLinkDirectory, KairosLayout.PersistentLabel));
        }

        var oem = FindPartition(request.DeviceLinkDirectory, KairosLayout.OemLabel);
        if (resetOem && oem is null)
        {
            throw new ResetSourceNotFoundException(KairosLayout.OemLabel, Candidates(request.DeviceLinkDirectory, KairosLayout.OemLabel));
        }

        var after = reset?.Poweroff == true ? PowerAction.Poweroff
            : request.Reboot || reset?.Reboot == true ? PowerAction.Reboot
            : PowerAction.None;
        return new ResetPlan
        {
            RecoveryImage = image,
            RecoveryImageType = type,
            StateDevice = state,
            PersistentDevice = persistent,
            OemDevice = oem,
            ResetPersistent = resetPersistent,
            ResetOem = resetOem,
            GrubEnvironment = resetOem ? null : paths.GrubEnvironment,
            Stages = [.. ResetStages.Select(stage => (stage, LifecycleStages.CountSteps(request.StageSources, stage)))],
            After = after,
            WorkDirectory = Path.GetFullPath(request.WorkDirectory),
        };
    }

    /// <summary>The node of the partition named <paramref name="label"/>: by GPT name first, then by filesystem label.</summary>
    public static string? FindPartition(string linkDirectory, string label) =>
        Candidates(linkDirectory, label).FirstOrDefault(File.Exists);

    private static string[] Candidates(string linkDirectory, string label) =>
        [Path.Combine(linkDirectory, "by-partlabel", label), Path.Combine(linkDirectory, "by-label", label)];
}
