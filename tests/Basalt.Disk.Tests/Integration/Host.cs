using System.Security.Cryptography;
using Basalt.Platform;

namespace Basalt.Disk.Tests.Integration;

/// <summary>Runs checking tools (sgdisk, e2fsck, …) for the integration tests.</summary>
internal static class Host
{
    public static readonly ToolRunner Runner = new();

    public static async Task<ToolResult> RunAsync(string tool, params string[] arguments) =>
        await Runner.RunAsync(new ToolInvocation(tool, arguments)).ConfigureAwait(false);

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>Loop devices still attached to <paramref name="file"/> (must be none after a test).</summary>
    public static async Task<string> LoopsOfAsync(string file) => (await RunAsync("losetup", "-j", file).ConfigureAwait(false)).StandardOutput.Trim();
}

/// <summary>Loop devices are few and shared: tests that attach them run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoopDeviceCollection
{
    public const string Name = "loop devices";
}
