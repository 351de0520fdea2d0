using System.Text.Encodings.Web;
using System.Text.Json;
using Basalt.Cli.Commands;

namespace Basalt.Cli.Hosting;

/// <summary>
/// The JSON contexts the CLI writes with. Output is for terminals and programs, not HTML, so quotes and
/// non-ASCII text are written as they are instead of as \u escapes.
/// </summary>
internal static class CliJson
{
    public static CliJsonContext Errors { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static CommandJsonContext Documents { get; } = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
    });
}
