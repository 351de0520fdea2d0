using System.CommandLine;
using Basalt.Agent.Assessment;
using Basalt.Boot;
using Basalt.Boot.Grub;
using Basalt.Boot.Mounting;
using Basalt.Cli.Hosting;
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
        var command = new Command("plan", "Print the mount plan the initramfs would carry out for a kernel command line") { cmdline, sysroot };
        binder.SetHandler(command, (context, _) =>
        {
            var plan = BootPlanner.Plan(ReadCmdline(context.GetValue(cmdline)), Layout(context.GetValue(sysroot)));
            context.Console.Output.Write(context.Console.IsJson ? MountPlanRenderer.ToJson(plan) + "\n" : MountPlanRenderer.ToText(plan));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
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
