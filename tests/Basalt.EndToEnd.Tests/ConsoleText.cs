namespace Basalt.EndToEnd.Tests;

/// <summary>Console and process output cut down for a failure message: the end is where a boot or a command stopped.</summary>
public static class ConsoleText
{
    public static string Tail(string text, int length) => text.Length <= length ? text : text[^length..];
}
