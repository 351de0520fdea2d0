namespace Basalt.Cli.Hosting;

/// <summary>
/// What the CLI needs to know about where it runs: whether stderr is a terminal (live progress bars)
/// and how wide it is. Tests pass <see cref="Redirected"/>.
/// </summary>
public sealed record CliEnvironment(bool ErrorIsTerminal, int TerminalWidth)
{
    public static CliEnvironment Redirected { get; } = new(false, 80);

    public static CliEnvironment Detect()
    {
        var terminal = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb");
        var width = 80;
        if (terminal)
        {
            try
            {
                width = Math.Max(40, Console.WindowWidth);
            }
            catch (IOException)
            {
            }
        }

        return new CliEnvironment(terminal, width);
    }
}
