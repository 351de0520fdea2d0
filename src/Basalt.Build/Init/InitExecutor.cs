using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Init;

/// <summary>What init changed; empty when the tree already was a Basalt OS tree for these inputs.</summary>
public sealed record InitResult(IReadOnlyList<string> Changes, string KernelVersion);

/// <summary>
/// Carries out an <see cref="InitPlan"/>. Every step compares before it writes, so running init a
/// second time over the same tree changes nothing.
/// </summary>
public sealed class InitExecutor
{
    private const UnixFileMode ExecutableMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static readonly Dictionary<string, string> BaseEnvironment = new(StringComparer.Ordinal)
    {
        ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["LC_ALL"] = "C",
    };

    private readonly IToolRunner _tools;
    private readonly ILogger _logger;
    private readonly Func<DistroFamily, IPackageManager> _packageManagers;
    private readonly bool _privileged;

    /// <param name="privileged">Whether chroot and mounts may be used; null: whether this process is root.</param>
    public InitExecutor(IToolRunner tools, ILogger<InitExecutor>? logger = null, Func<DistroFamily, IPackageManager>? packageManagers = null, bool? privileged = null)
    {
        _tools = tools;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _packageManagers = packageManagers ?? PackageManagers.For;
        _privileged = privileged ?? Posix.IsRoot;
    }

    /// <summary>A fixed timestamp for the initramfs archive, so its content depends on its inputs only.</summary>
    public static DateTimeOffset InitramfsEpoch { get; } = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public async Task<InitResult> ExecuteAsync(InitPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var changes = new List<string>();
        var root = plan.Root;

        if (plan.PackageCommands.Count > 0)
        {
            await InstallPackagesAsync(plan, cancellationToken).ConfigureAwait(false);
            changes.Add($"installed {string.Join(' ', plan.Packages.Missing)}");
        }

        foreach (var file in plan.Files)
        {
            if (EnsureFile(root, file.Path, Encoding.UTF8.GetBytes(file.Content), file.Mode))
            {
                changes.Add($"wrote {file.Path}");
            }
        }

        foreach (var mountPoint in plan.MountPoints)
        {
            var path = RootedPath.Resolve(root, mountPoint);
            if (!Directory.Exists(path))
            {
                Directory.CreateDirectory(path);
                changes.Add($"created mount point {mountPoint}");
            }
        }

        if (EnsureBinary(root, plan.BasaltBinary))
        {
            changes.Add($"placed {InitFiles.BasaltBinaryPath}");
        }

        foreach (var unit in plan.UnitsToEnable)
        {
            foreach (var link in SystemdUnits.LinksFor(root, unit))
            {
                if (EnsureSymlink(root, link.LinkPath, link.Target))
                {
                    changes.Add($"enabled {unit} ({link.LinkPath})");
                }
            }
        }

        if (EmptyMachineId(root))
        {
            changes.Add("emptied /etc/machine-id");
        }

        if (SetRootPassword(root, plan.RootPasswordHash))
        {
            changes.Add(plan.RootPasswordHash is null ? "locked root's password" : "set root's password");
        }

        var kernelVersion = FindKernelVersion(root);
        if (EnsureSymlink(root, InitFiles.KernelPath, $"vmlinuz-{kernelVersion}"))
        {
            changes.Add($"linked {InitFiles.KernelPath} to vmlinuz-{kernelVersion}");
        }

        if (await EnsureInitramfsAsync(plan, kernelVersion, cancellationToken).ConfigureAwait(false))
        {
            changes.Add($"built {InitFiles.InitrdPath} for {kernelVersion}");
        }

        foreach (var change in changes)
        {
            _logger.LogInformation("init: {Change}", change);
        }

        return new InitResult(changes, kernelVersion);
    }

    /// <summary>The newest kernel version with both /boot/vmlinuz-VERSION and /lib/modules/VERSION.</summary>
    public static string FindKernelVersion(string root)
    {
        var boot = RootedPath.Resolve(root, "/boot");
        var versions = Directory.Exists(boot)
            ? Directory.EnumerateFiles(boot, "vmlinuz-*")
                .Select(path => Path.GetFileName(path)["vmlinuz-".Length..])
                .Where(version => Directory.Exists(RootedPath.Resolve(root, $"/lib/modules/{version}")))
                .ToList()
            : [];
        if (versions.Count == 0)
        {
            throw new KernelNotFoundException(root);
        }

        return versions.Order(KernelVersionComparer.Instance).Last();
    }

    /// <summary>Writes <paramref name="content"/> unless the file already has it and the mode; true when it wrote.</summary>
    public static bool EnsureFile(string root, string pathInRoot, byte[] content, UnixFileMode mode)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = RootedPath.Resolve(root, pathInRoot);
        if (Posix.TryGetStatus(path, out var status) && status.Kind == UnixFileKind.Regular
            && status.Size == content.Length && (status.Mode & (UnixFileMode)0xFFF) == mode
            && File.ReadAllBytes(path).AsSpan().SequenceEqual(content))
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (Directory.Exists(path))
        {
            throw new UnsafeRootPathException(root, pathInRoot, "a directory is in the way of a file");
        }

        AtomicFile.WriteAllBytes(path, content);
        File.SetUnixFileMode(path, mode);
        return true;
    }

    /// <summary>Makes <paramref name="linkInRoot"/> a symbolic link to <paramref name="target"/>; true when it changed.</summary>
    public static bool EnsureSymlink(string root, string linkInRoot, string target)
    {
        var path = RootedPath.Resolve(root, linkInRoot, followLast: false);
        if (Posix.TryGetStatus(path, out var status))
        {
            if (status.Kind == UnixFileKind.SymbolicLink && new FileInfo(path).LinkTarget == target)
            {
                return false;
            }

            if (status.Kind == UnixFileKind.Directory)
            {
                throw new UnsafeRootPathException(root, linkInRoot, "a directory is in the way of a link");
            }

            File.Delete(path);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.CreateSymbolicLink(path, target);
        return true;
    }

    private static bool EnsureBinary(string root, string source)
    {
        var path = RootedPath.Resolve(root, InitFiles.BasaltBinaryPath);
        if (Posix.TryGetStatus(path, out var status) && status.Kind == UnixFileKind.Regular
            && (status.Mode & (UnixFileMode)0xFFF) == ExecutableMode && SameContent(source, path))
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = AtomicFile.TemporarySibling(path);
        try
        {
            File.Copy(source, temporary);
            File.SetUnixFileMode(temporary, ExecutableMode);
            Posix.Sync(temporary);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        return true;
    }

    /// <summary>An empty /etc/machine-id makes systemd generate a fresh id on each node.</summary>
    private static bool EmptyMachineId(string root)
    {
        var changed = EnsureFile(root, "/etc/machine-id", [], UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var dbus = RootedPath.Resolve(root, "/var/lib/dbus/machine-id", followLast: false);
        if (Posix.TryGetStatus(dbus, out var status) && status.Kind == UnixFileKind.Regular)
        {
            File.Delete(dbus);
            changed = true;
        }

        return changed;
    }

    private static bool SetRootPassword(string root, string? hash)
    {
        var path = RootedPath.Resolve(root, "/etc/shadow");
        if (!File.Exists(path))
        {
            return false;
        }

        var original = File.ReadAllText(path);
        var updated = ShadowFile.WithRootPassword(original, hash);
        if (updated == original)
        {
            return false;
        }

        var mode = File.GetUnixFileMode(path);
        var owner = Posix.GetStatus(path);
        AtomicFile.WriteAllText(path, updated);
        File.SetUnixFileMode(path, mode);
        if (Posix.IsRoot)
        {
            Posix.ChangeOwner(path, owner.UserId, owner.GroupId);
        }

        return true;
    }

    private async Task InstallPackagesAsync(InitPlan plan, CancellationToken cancellationToken)
    {
        var manager = _packageManagers(plan.Distro.Family);
        var session = await OpenSessionAsync(plan, withHostResolver: true, cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            foreach (var command in plan.PackageCommands)
            {
                await RunInRootAsync(plan, command.Arguments, manager.Environment, cancellationToken).ConfigureAwait(false);
            }
        }

        manager.CleanCaches(plan.Root);
    }

    private async Task<bool> EnsureInitramfsAsync(InitPlan plan, string kernelVersion, CancellationToken cancellationToken)
    {
        var inputs = InitramfsInputs(plan, kernelVersion);
        var initrd = RootedPath.Resolve(plan.Root, InitFiles.InitrdPath);
        var stamp = RootedPath.Resolve(plan.Root, InitFiles.InitrdInputsPath);
        if (File.Exists(initrd) && File.Exists(stamp) && File.ReadAllText(stamp) == inputs)
        {
            return false;
        }

        const string Staging = "/boot/.initrd.basalt-new";
        var session = await OpenSessionAsync(plan, withHostResolver: false, cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["SOURCE_DATE_EPOCH"] = InitramfsEpoch.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            };
            try
            {
                await RunInRootAsync(plan, ["mkinitramfs", "-o", Staging, kernelVersion], environment, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                File.Delete(RootedPath.Resolve(plan.Root, Staging));
                throw;
            }
        }

        var staged = RootedPath.Resolve(plan.Root, Staging);
        Posix.Sync(staged);
        File.Move(staged, initrd, overwrite: true);
        Posix.SyncParent(initrd);
        EnsureFile(plan.Root, InitFiles.InitrdInputsPath, Encoding.UTF8.GetBytes(inputs), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return true;
    }

    /// <summary>What the initramfs is made of; when none of it changed, the existing one is kept.</summary>
    private static string InitramfsInputs(InitPlan plan, string kernelVersion)
    {
        var text = new StringBuilder().Append("kernel ").Append(kernelVersion).Append('\n');
        foreach (var path in new[] { $"/boot/vmlinuz-{kernelVersion}", InitFiles.BasaltBinaryPath, "/bin/busybox", InitFiles.InitramfsHookPath, InitFiles.InitramfsScriptPath, InitFiles.InitramfsModulesPath, InitFiles.InitramfsConfPath, "/var/lib/dpkg/status" })
        {
            var host = RootedPath.Resolve(plan.Root, path);
            text.Append(path).Append(' ').Append(File.Exists(host) ? HashFile(host) : "absent").Append('\n');
        }

        return text.ToString();
    }

    private async Task<ChrootSession> OpenSessionAsync(InitPlan plan, bool withHostResolver, CancellationToken cancellationToken)
    {
        if (plan.InPlace)
        {
            return await ChrootSession.OpenInPlaceAsync(_tools, _logger).ConfigureAwait(false);
        }

        if (!_privileged)
        {
            throw new InitRequiresRootException($"running commands in '{plan.Root}' needs chroot and mounts");
        }

        return await ChrootSession.OpenAsync(plan.Root, _tools, _logger, withHostResolver, cancellationToken).ConfigureAwait(false);
    }

    private async Task RunInRootAsync(InitPlan plan, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> extraEnvironment, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(BaseEnvironment, StringComparer.Ordinal);
        foreach (var (key, value) in extraEnvironment)
        {
            environment[key] = value;
        }

        var invocation = plan.InPlace
            ? new ToolInvocation(arguments[0], arguments.Skip(1).ToList()) { Environment = environment }
            : ToolInvocation.InRoot(plan.Root, arguments, environment);
        await _tools.RunAsync(invocation with { Timeout = TimeSpan.FromMinutes(30) }, cancellationToken).ConfigureAwait(false);
    }

    private static bool SameContent(string first, string second)
    {
        var a = new FileInfo(first);
        var b = new FileInfo(second);
        return a.Length == b.Length && HashFile(first) == HashFile(second);
    }

    private static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>Orders kernel versions the way people read them: 6.1.0-10 before 6.1.0-9 is wrong, so numbers compare as numbers.</summary>
public sealed class KernelVersionComparer : IComparer<string>
{
    public static KernelVersionComparer Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        var left = Parts(x ?? string.Empty);
        var right = Parts(y ?? string.Empty);
        for (var i = 0; i < Math.Min(left.Count, right.Count); i++)
        {
            var a = left[i];
            var b = right[i];
            var result = long.TryParse(a, out var na) && long.TryParse(b, out var nb)
                ? na.CompareTo(nb)
                : string.CompareOrdinal(a, b);
            if (result != 0)
            {
                return result;
            }
        }

        return left.Count.CompareTo(right.Count);
    }

    private static List<string> Parts(string version)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        bool? digits = null;
        foreach (var c in version)
        {
            var isDigit = char.IsAsciiDigit(c);
            if (!char.IsAsciiLetterOrDigit(c))
            {
                Flush();
                continue;
            }

            if (digits is { } d && d != isDigit)
            {
                Flush();
            }

            digits = isDigit;
            current.Append(c);
        }

        Flush();
        return parts;

        void Flush()
        {
            if (current.Length > 0)
            {
                parts.Add(current.ToString());
                current.Clear();
            }

            digits = null;
        }
    }
}

/// <summary>Edits root's entry of /etc/shadow.</summary>
public static class ShadowFile
{
    /// <summary>Sets root's hash, or (null) locks it: a usable hash gets a leading '!', an empty one becomes "!*".</summary>
    public static string WithRootPassword(string shadow, string? hash)
    {
        ArgumentNullException.ThrowIfNull(shadow);
        var lines = shadow.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var fields = lines[i].Split(':');
            if (fields.Length < 2 || fields[0] != "root")
            {
                continue;
            }

            fields[1] = hash ?? fields[1] switch
            {
                "" => "!*",
                var current when current.StartsWith('!') || current == "*" => current,
                var current => "!" + current,
            };
            lines[i] = string.Join(':', fields);
        }

        return string.Join('\n', lines);
    }
}
