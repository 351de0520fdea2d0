using System.CommandLine;

namespace Basalt.Cli.Hosting;

/// <summary>
/// One group of related commands (image, cache, …). A subsystem adds its commands to the CLI by
/// writing one of these and listing it in <see cref="BasaltApp.DefaultGroups"/>.
/// </summary>
public interface ICommandGroup
{
    /// <summary>The top-level commands of this group; handlers are attached with <paramref name="binder"/>.</summary>
    IEnumerable<Command> CreateCommands(CommandBinder binder);
}
