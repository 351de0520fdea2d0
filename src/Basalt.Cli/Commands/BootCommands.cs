using System.CommandLine;
using Basalt.Agent.Assessment;
using Basalt.Boot;
using Basalt.Boot.CommandLine;
using Basalt.Boot.Grub;
using Basalt.Boot.Mounting;
using Basalt.Cli.Hosting;
using Basalt.Config;
using Basalt.Config.Collection;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt boot plan|mount|mark-good`: the boot-time mounter (run by the initramfs) and the
/// bookkeeping that says a boot was good.
/// </summary>
internal sealed class BootCommands : ICommandGroup
{
    private const string ProcCmdline = "/proc/cmdline";
    private const string OemMountPoint = "/oem";

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return new Command("boot", "The boot-time mounter and boot assessment")
        {
            Plan(binder),
            Mount(binder),
            MarkGood(binder),
        };
    }

    private static Option<string> CmdlineOption() =>
        new("--cmdline") { Description = $"Kernel command line to plan for (default: {ProcCmdline})" };

    private static Option<string> SysrootOption() =>
        new("--sysroot") { Description = "Where the new root is mounted (default: /sysroot)" };

    private static Command Plan(CommandBinder binder)
    {
        var cmdline = CmdlineOption();
        var sysroot = SysrootOption();
        var configs = new Option<string[]>("--config", "-c")
        {
            Description = "A cloud-config file to plan with, as if it were on the node (install.bind_mounts, install.ephemeral_mounts); " +
                          "repeat for more, merged in the order given, then the command line. Without it the plan shows the built-in layout, " +
                          "which the node extends at boot with the config it finds",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("plan", "Print the mount plan the initramfs would carry out for a kernel command line") { cmdline, sysroot, configs };
        binder.SetHandler(command, async (context, ct) =>
        {
            var commandLine = ReadCmdline(context.GetValue(cmdline));
            var layout = Layout(context.GetValue(sysroot));
            var files = context.GetValue(configs) ?? [];
            var plan = files.Length == 0
                ? BootPlanner.Plan(commandLine, layout)
                : BootPlanner.Plan(BootParameters.Parse(commandLine), layout, await ReadConfigAsync(files, commandLine, ct).ConfigureAwait(false));
            context.Console.Output.Write(context.Console.IsJson ? MountPlanRenderer.ToJson(plan) + "\n" : MountPlanRenderer.ToText(plan));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The given files merged as the node merges its config (then the command line), as layout settings.</summary>
    private static async Task<ConfigLayoutSettings> ReadConfigAsync(IEnumerable<string> files, string commandLine, CancellationToken cancellationToken)
    {
        var inputs = new List<ConfigInput>();
        foreach (var file in files)
        {
            try
            {
                inputs.Add(new ConfigInput(await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false), file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliUsageException($"--config {file}: {e.Message}");
            }
        }

        var options = CloudConfigReader.Options("/", commandLine) with { Directories = [], Inputs = inputs };
        var merged = await new ConfigCollector().CollectAsync(options, cancellationToken).ConfigureAwait(false);
        return CloudConfigReader.From(merged);
    }

    private static Command Mount(CommandBinder binder)
    {
        var cmdline = CmdlineOption();
        var sysroot = SysrootOption();
        var command = new Command("mount", "Mount the system for this boot (run by the initramfs before it hands over to init)") { cmdline, sysroot };
        binder.SetHandler(command, async (context, ct) =>
        {
            var plan = BootPlanner.Plan(ReadCmdline(context.GetValue(cmdline)), Layout(context.GetValue(sysroot)));
            var result = await MountPlanExecutor.ForHost(new ToolRunner()).ExecuteAsync(plan, ct).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                context.Console.Error.WriteLine($"error: the boot could not be mounted: {result.FailureReason}");
                return ExitCodes.Failure;
            }

            context.Console.WriteText($"mounted the {plan.Mode.ToString().ToLowerInvariant()} system at {result.Handover?.NewRoot}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command MarkGood(CommandBinder binder)
    {
        var grubenv = new Option<string>("--grubenv") { Description = $"The GRUB environment block (default: {OemMountPoint}{GrubPaths.Environment})" };
        var nodeRoot = StateCommands.NodeRootOption();
        var command = new Command("mark-good", "Record that this boot passed its health gate: fallbacks go into the history, the try counters reset") { grubenv, nodeRoot };
        binder.SetHandler(command, async (context, ct) =>
        {
            var marker = new GoodBootMarker(StateCommands.Paths(context, nodeRoot)) { GrubEnvironmentPath = context.GetValue(grubenv) };
            var result = await marker.MarkGoodAsync(ct).ConfigureAwait(false);
            StateCommands.WriteMarkGood(context, result);
            return ExitCodes.Success;
        });
        return command;
    }

    private static MountLayout Layout(string? sysroot) =>
        sysroot is null ? MountLayout.Default : MountLayout.Default with { Sysroot = sysroot };

    private static string ReadCmdline(string? given)
    {
        if (given is not null)
        {
            return given;
        }

        if (!File.Exists(ProcCmdline))
        {
            throw new CliUsageException($"{ProcCmdline} is not readable here; pass --cmdline \"…\"");
        }

        return File.ReadAllText(ProcCmdline).Trim();
    }
}
