using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Platform;

namespace Basalt.Config.Stages;

internal sealed partial class StepExecutor
{
    private async Task LayoutAsync(StageLayout layout, CancellationToken cancellationToken)
    {
        if (!context.IsHostRoot)
        {
            Record("layout: not applied, it acts on real disks only when the root is /");
            return;
        }

        var device = await FindDiskAsync(layout.Device, cancellationToken).ConfigureAwait(false);
        var sfdisk = await context.Tools.RunAsync(new ToolInvocation("sfdisk", ["--json", device]) { Package = "fdisk" }, cancellationToken).ConfigureAwait(false);
        var lsblk = await context.Tools.RunAsync(new ToolInvocation("lsblk", ["--json", "-o", "PATH,FSTYPE", device]) { Package = "util-linux" }, cancellationToken).ConfigureAwait(false);
        var fileSystems = new Dictionary<string, string>(StringComparer.Ordinal);
        if (JsonNode.Parse(lsblk.StandardOutput)?["blockdevices"] is JsonArray devices)
        {
            foreach (var item in devices.OfType<JsonObject>())
            {
                if (item["path"]?.GetValue<string>() is { } path && item["fstype"] is JsonValue type && type.GetValueKind() == JsonValueKind.String)
                {
                    fileSystems[path] = type.GetValue<string>();
                }
            }
        }

        var plan = LayoutPlanner.Plan(layout, LayoutPlanner.ParseSfdisk(sfdisk.StandardOutput, fileSystems));
        foreach (var operation in plan.Operations)
        {
            Record(operation.Description);
            foreach (var command in operation.Commands)
            {
                Record("  " + command.CommandLine);
                if (!DryRun)
                {
                    await context.Tools.RunAsync(command, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The whole disk holding the labelled filesystem or partition, else the given path.</summary>
    private async Task<string> FindDiskAsync(LayoutDevice device, CancellationToken cancellationToken)
    {
        if (device.Label is { Length: > 0 } label)
        {
            foreach (var tag in new[] { "LABEL", "PARTLABEL" })
            {
                var found = await context.Tools.RunAsync(new ToolInvocation("blkid", ["-l", "-o", "device", "-t", $"{tag}={label}"]) { Package = "util-linux", SuccessExitCodes = [0, 2] }, cancellationToken).ConfigureAwait(false);
                var partition = found.StandardOutput.Trim();
                if (partition.Length > 0)
                {
                    var parent = await context.Tools.RunAsync(new ToolInvocation("lsblk", ["-n", "-d", "-o", "PKNAME", partition]) { Package = "util-linux" }, cancellationToken).ConfigureAwait(false);
                    var name = parent.StandardOutput.Trim();
                    return name.Length > 0 ? "/dev/" + name : partition;
                }
            }
        }

        return device.Path is { Length: > 0 } path
            ? path
            : throw new StageStepException($"no filesystem or partition labelled '{device.Label}' was found", "check the label, or give layout.device.path");
    }
}
