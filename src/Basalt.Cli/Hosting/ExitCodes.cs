namespace Basalt.Cli.Hosting;

public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;

    /// <summary>128 + SIGINT, what shells expect from a program stopped by Ctrl-C.</summary>
    public const int Cancelled = 130;
}
