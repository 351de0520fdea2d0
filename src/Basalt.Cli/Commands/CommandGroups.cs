using Basalt.Cli.Hosting;

namespace Basalt.Cli.Commands;

/// <summary>The command groups of the shipped CLI, in the order `basalt --help` lists them.</summary>
internal static class CommandGroups
{
    public static IReadOnlyList<ICommandGroup> All { get; } = [new ImageCommands(), new CacheCommands(), new BuildCommands(), new DiskCommands(), new BootCommands(), new ConfigCommands(), new StageCommands(), new InstallCommands(), new UpgradeCommands(), new StateCommands(), new VmCommands(), new NetbootCommands(), new DemoCommands()];
}
