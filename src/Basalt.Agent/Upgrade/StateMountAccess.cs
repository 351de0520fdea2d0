using Basalt.Platform;

namespace Basalt.Agent.Upgrade;

/// <summary>
/// A booted node mounts COS_STATE read-only. For the span of an upgrade or rollback it is remounted read-write and
/// afterwards read-only again; a directory that is no read-only mount point (tests, an offline tree) is left alone.
/// </summary>
public sealed class StateMountAccess : IAsyncDisposable
{
    private readonly IToolRunner _runner;
    private readonly string _mountPoint;
    private bool _remounted;

    private StateMountAccess(IToolRunner runner, string mountPoint)
    {
        _runner = runner;
        _mountPoint = mountPoint;
    }

    public static async Task<StateMountAccess> OpenAsync(IToolRunner runner, string mountPoint, string mountTable = "/proc/self/mounts", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        var access = new StateMountAccess(runner, Path.GetFullPath(mountPoint).TrimEnd('/'));
        if (File.Exists(mountTable) && IsReadOnlyMount(await File.ReadAllTextAsync(mountTable, cancellationToken).ConfigureAwait(false), access._mountPoint))
        {
            await runner.RunAsync(new ToolInvocation("mount", ["-o", "remount,rw", access._mountPoint]) { Package = "mount" }, cancellationToken).ConfigureAwait(false);
            access._remounted = true;
        }

        return access;
    }

    /// <summary>Whether the last entry for <paramref name="mountPoint"/> in a mounts table (fstab format) is read-only.</summary>
    public static bool IsReadOnlyMount(string mounts, string mountPoint)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        bool? readOnly = null;
        foreach (var line in mounts.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            if (fields.Length >= 4 && fields[1].Replace("\\040", " ", StringComparison.Ordinal) == mountPoint)
            {
                readOnly = fields[3].Split(',').Contains("ro");
            }
        }

        return readOnly == true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_remounted)
        {
            _remounted = false;
            Posix.SyncFileSystem(_mountPoint);
            await _runner.RunAsync(new ToolInvocation("mount", ["-o", "remount,ro", _mountPoint]) { Package = "mount" }).ConfigureAwait(false);
        }
    }
}
