using Basalt.Platform;
using Microsoft.Extensions.Logging;

namespace Basalt.Build.Init;

/// <summary>
/// The kernel filesystems a package manager or mkinitramfs needs inside a root (proc, sys, dev,
/// dev/pts), mounted for the life of the session and always released on dispose, in reverse order,
/// even after a failure; a mount that will not go is detached lazily so nothing stays behind.
/// </summary>
public sealed class ChrootSession : IAsyncDisposable
{
    private readonly IToolRunner _tools;
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly List<string> _mounted = [];
    private readonly List<Action> _restores = [];

    private ChrootSession(string root, IToolRunner tools, ILogger logger)
    {
        _root = root;
        _tools = tools;
        _logger = logger;
    }

    /// <summary>Mounts proc, sys, dev and dev/pts into <paramref name="root"/>; everything mounted so far is released if one fails.</summary>
    public static async Task<ChrootSession> OpenAsync(string root, IToolRunner tools, ILogger logger, bool withHostResolver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(logger);
        var session = new ChrootSession(Path.GetFullPath(root), tools, logger);
        try
        {
            await session.MountAsync("/proc", ["-t", "proc", "proc"], cancellationToken).ConfigureAwait(false);
            await session.MountAsync("/sys", ["-t", "sysfs", "sysfs"], cancellationToken).ConfigureAwait(false);
            await session.MountAsync("/dev", ["--bind", "/dev"], cancellationToken).ConfigureAwait(false);
            await session.MountAsync("/dev/pts", ["--bind", "/dev/pts"], cancellationToken).ConfigureAwait(false);
            session.InstallPolicyRcD();
            if (withHostResolver)
            {
                session.UseHostResolver();
            }

            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// In place (the root is "/", e.g. a Dockerfile RUN step): the kernel filesystems are already
    /// there and the resolver is the container's; only services are kept from starting.
    /// </summary>
    public static Task<ChrootSession> OpenInPlaceAsync(IToolRunner tools, ILogger logger)
    {
        var session = new ChrootSession("/", tools, logger);
        session.InstallPolicyRcD();
        return Task.FromResult(session);
    }

    /// <summary>Mount points at or below <paramref name="root"/> in this process's mount table.</summary>
    public static IReadOnlyList<string> MountPointsUnder(string root)
    {
        var full = Path.GetFullPath(root).TrimEnd('/');
        var result = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length < 5)
            {
                continue;
            }

            var mountPoint = Unescape(fields[4]);
            if (mountPoint == full || mountPoint.StartsWith(full + "/", StringComparison.Ordinal))
            {
                result.Add(mountPoint);
            }
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var restore in Enumerable.Reverse(_restores))
        {
            try
            {
                restore();
            }
            catch (IOException exception)
            {
                _logger.LogWarning("could not restore a file in {Root}: {Message}", _root, exception.Message);
            }
        }

        _restores.Clear();
        foreach (var mountPoint in Enumerable.Reverse(_mounted))
        {
            try
            {
                await _tools.RunAsync(new ToolInvocation("umount", [mountPoint]) { Package = "mount" }).ConfigureAwait(false);
            }
            catch (ToolFailedException exception)
            {
                // Something (a daemon a package started despite policy-rc.d) still holds it: detach it.
                _logger.LogWarning("umount {MountPoint} failed ({Message}); detaching it lazily", mountPoint, exception.Message);
                await _tools.RunAsync(new ToolInvocation("umount", ["-l", mountPoint]) { Package = "mount" }).ConfigureAwait(false);
            }
        }

        _mounted.Clear();
    }

    private async Task MountAsync(string pathInRoot, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var target = RootedPath.Resolve(_root, pathInRoot);
        if (!target.StartsWith(_root + "/", StringComparison.Ordinal))
        {
            throw new UnsafeRootPathException(_root, pathInRoot, "it resolves to the root itself");
        }

        Directory.CreateDirectory(target);
        await _tools.RunAsync(new ToolInvocation("mount", [.. arguments, target]) { Package = "mount" }, cancellationToken).ConfigureAwait(false);
        _mounted.Add(target);
    }

    private void InstallPolicyRcD()
    {
        var path = RootedPath.Resolve(_root, "/usr/sbin/policy-rc.d");
        if (File.Exists(path) || Posix.TryGetStatus(path, out _))
        {
            return; // the image has its own policy; leave it alone
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, InitFiles.PolicyRcD());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _restores.Add(() => File.Delete(path));
    }

    /// <summary>The package manager resolves the mirror's name with the host's resolver; the image's own entry is put back after.</summary>
    private void UseHostResolver()
    {
        const string HostResolver = "/etc/resolv.conf";
        if (!File.Exists(HostResolver))
        {
            return;
        }

        var content = File.ReadAllBytes(HostResolver);
        var path = RootedPath.Resolve(_root, "/etc/resolv.conf", followLast: false);
        var saved = Path.Combine(Path.GetDirectoryName(path)!, ".resolv.conf.basalt-saved");
        var hadEntry = Posix.TryGetStatus(path, out _);
        if (hadEntry)
        {
            File.Move(path, saved, overwrite: true);
        }

        File.WriteAllBytes(path, content);
        _restores.Add(() =>
        {
            File.Delete(path);
            if (hadEntry)
            {
                File.Move(saved, path);
            }
        });
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
             .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
