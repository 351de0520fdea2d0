using System.Globalization;
using Basalt.Platform;

namespace Basalt.Disk.FileSystems;

/// <summary>Shared plumbing of the filesystem builders: tool presence first, temp-then-rename, typed failures.</summary>
internal static class ToolSupport
{
    /// <summary>Fails with <see cref="ToolNotFoundException"/> before anything is written when a tool is missing.</summary>
    public static void EnsureTools(IToolRunner runner, params (string Tool, string Package)[] tools)
    {
        foreach (var (tool, package) in tools)
        {
            if (runner.Locate(tool) is null)
            {
                throw new ToolNotFoundException(tool, package);
            }
        }
    }

    public static async Task RunAsync(IToolRunner runner, ToolInvocation invocation, string fileSystem, string target, CancellationToken cancellationToken)
    {
        try
        {
            await runner.RunAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (ToolFailedException failure)
        {
            throw new FileSystemBuildException(fileSystem, target, failure);
        }
    }

    /// <summary>Runs <paramref name="build"/> against a temporary sibling of <paramref name="target"/>, then renames it into place.</summary>
    public static async Task BuildAtomicallyAsync(string target, Func<string, Task> build)
    {
        var temporary = AtomicFile.TemporarySibling(target);
        try
        {
            await build(temporary).ConfigureAwait(false);
            Posix.Sync(temporary);
            File.Move(temporary, target, overwrite: true);
            Posix.SyncParent(target);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    public static string Epoch(DateTimeOffset time) => time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    public static string Kibibytes(long bytes) => (bytes / 1024).ToString(CultureInfo.InvariantCulture);
}
