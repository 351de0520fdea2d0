using System.Globalization;
using System.Text;
using System.Text.Json;
using Basalt.Boot.CommandLine;

namespace Basalt.Boot.Mounting;

/// <summary>Prints a <see cref="MountPlan"/> for people (<c>basalt boot plan</c>) or as JSON (<c>--output json</c>).</summary>
public static class MountPlanRenderer
{
    public static string ToJson(MountPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return JsonSerializer.Serialize(plan, BootJsonContext.Default.MountPlan);
    }

    public static MountPlan FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return JsonSerializer.Deserialize(json, BootJsonContext.Default.MountPlan)
               ?? throw new JsonException("the document holds no mount plan");
    }

    public static string ToText(MountPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"boot mode: {BootParametersReader.Name(plan.Mode)}{(plan.Reset ? " (unattended reset)" : string.Empty)}\n");
        text.Append(CultureInfo.InvariantCulture, $"command line: {plan.CommandLine}\n");
        text.Append(CultureInfo.InvariantCulture, $"on failure: {plan.OnFailure.Description}\n");
        foreach (var note in plan.Notes)
        {
            text.Append(CultureInfo.InvariantCulture, $"note: {note}\n");
        }

        foreach (var problem in plan.ConfigProblems)
        {
            text.Append(CultureInfo.InvariantCulture, $"config problem: {problem}\n");
        }

        text.Append("steps:\n");
        var width = plan.Steps.Count.ToString(CultureInfo.InvariantCulture).Length;
        for (var i = 0; i < plan.Steps.Count; i++)
        {
            var step = plan.Steps[i];
            var number = (i + 1).ToString(CultureInfo.InvariantCulture).PadLeft(width);
            var optional = step.Required ? string.Empty : "  (optional)";
            text.Append(CultureInfo.InvariantCulture, $"  {number}. {step.Id,-24} {Describe(step)}{optional}\n");
        }

        return text.ToString();
    }

    /// <summary>One line saying what the step does, close to the command it runs.</summary>
    public static string Describe(MountStep step) => step switch
    {
        FindDeviceStep s => $"find {s.Device.Spec} (wait up to {s.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s) -> ${{{s.Slot}}}",
        CheckFileSystemStep s => $"e2fsck -p {s.Device}",
        RequireFileStep s => $"require {s.Path} ({s.Reason})",
        DownloadStep s => $"download {s.Url} -> {s.Destination}",
        AttachLoopStep s => $"losetup --find --show{(s.ReadOnly ? " --read-only" : string.Empty)} {s.File} -> ${{{s.Slot}}}",
        MountFileSystemStep s => $"mount -t {s.FileSystem} -o {string.Join(',', s.Options)} {s.Source} {s.Target}",
        MountOverlayStep s => $"mount -t overlay overlay -o lowerdir={s.LowerDirectory},upperdir={s.UpperDirectory},workdir={s.WorkDirectory} {s.Target}",
        PersistentBindStep s => $"bind {s.StateDirectory} -> {s.Target} (seeded from the image on first use)",
        WriteFileStep s => $"write {s.Path}",
        WriteFstabStep s => $"write {s.Path} ({s.Entries.Count} entries)",
        ReadConfigStep s => $"read the cloud-config under {s.Root} and the command line; plan the rest with its layout",
        RunStageStep s => $"run the {s.Stage} stage of the node's cloud-config against {s.Root}",
        SwitchRootStep s => $"switch_root {s.NewRoot} {s.Init}",
        _ => step.GetType().Name,
    };
}
