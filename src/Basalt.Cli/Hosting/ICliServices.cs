namespace Basalt.Cli.Hosting;

/// <summary>
/// The composition root's product: the services commands use, built once per invocation from the
/// global settings, only when a command asks for them (so --help never touches the cache).
/// </summary>
public interface ICliServices : IAsyncDisposable
{
    GlobalSettings Settings { get; }
}

/// <summary>Builds the services of one invocation; tests substitute their own.</summary>
public delegate ICliServices CliServicesFactory(GlobalSettings settings);
