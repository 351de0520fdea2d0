namespace Basalt.Cli.Hosting;

/// <summary>The composition root of the shipped CLI: real cache, real registry client.</summary>
public sealed class CliServices : ICliServices
{
    private CliServices(GlobalSettings settings)
    {
        Settings = settings;
    }

    public GlobalSettings Settings { get; }

    public static ICliServices Create(GlobalSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new CliServices(settings);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
