using System.Globalization;
using Basalt.Boot.CommandLine;

namespace Basalt.Boot.Mounting;

/// <summary>A block device mounted into the new root (Kairos <c>VOLUMES</c>, <c>rd.cos.mount</c>).</summary>
public sealed record VolumeMount(DeviceReference Device, string MountPoint)
{
    public string FileSystem { get; init; } = "ext4";
    public bool ReadWrite { get; init; } = true;
    /// <summary>When false a missing device is logged and skipped; when true the boot fails over.</summary>
    public bool Required { get; init; } = true;
}

/// <summary>
/// The runtime layout of an installed node (Kairos <c>cos-layout.env</c>): what is ephemeral, what
/// persists and where. <see cref="Default"/> is Kairos's own default so existing nodes keep their data.
/// The cloud-config adds to it (<c>install.bind_mounts</c>, <c>install.ephemeral_mounts</c>) through
/// <see cref="LayoutConfiguration.Apply"/>, at boot once the partitions holding the config are mounted.
/// </summary>
public sealed record MountLayout
{
    /// <summary>Kairos's <c>PERSISTENT_STATE_PATHS</c> (kairos-init 00_rootfs.yaml), plus <c>/var/lib/basalt</c>.</summary>
    public static IReadOnlyList<string> KairosPersistentPaths { get; } =
    [
        "/etc/cni", "/etc/init.d", "/etc/iscsi", "/etc/k0s", "/etc/kubernetes", "/etc/modprobe.d", "/etc/pwx",
        "/etc/rancher", "/etc/runlevels", "/etc/ssh", "/etc/ssl/certs", "/etc/sysconfig", "/etc/systemd", "/etc/zfs",
        "/home", "/opt", "/root", "/usr/libexec", "/var/cores", "/var/lib/ca-certificates", "/var/lib/cni",
        "/var/lib/containerd", "/var/lib/calico", "/var/lib/dbus", "/var/lib/etcd", "/var/lib/extensions",
        "/var/lib/confexts", "/var/lib/k0s", "/var/lib/kubelet", "/var/lib/longhorn", "/var/lib/osd",
        "/var/lib/rancher", "/var/lib/rook", "/var/lib/tailscale", "/var/lib/wicked", "/var/lib/kairos", "/var/log",
        "/var/lib/basalt",
    ];

    public static MountLayout Default { get; } = new();

    /// <summary>Ephemeral tmpfs overlays on an installed system (Kairos <c>RW_PATHS</c>).</summary>
    public IReadOnlyList<string> EphemeralPaths { get; init; } = ["/var", "/etc", "/srv"];

    /// <summary>Ephemeral overlays in recovery and live mode, where nothing persists (immucore's default RW paths).</summary>
    public IReadOnlyList<string> NonPersistentEphemeralPaths { get; init; } = ["/etc", "/root", "/home", "/opt", "/srv", "/usr/local", "/var"];

    /// <summary>Paths bind-mounted from <see cref="PersistentStateTarget"/> on an installed system.</summary>
    public IReadOnlyList<string> PersistentPaths { get; init; } = KairosPersistentPaths;

    /// <summary>User additions to <see cref="PersistentPaths"/> (<c>install.bind_mounts</c>).</summary>
    public IReadOnlyList<string> CustomBindMounts { get; init; } = [];

    /// <summary>User additions to <see cref="EphemeralPaths"/> (<c>install.ephemeral_mounts</c>).</summary>
    public IReadOnlyList<string> CustomEphemeralMounts { get; init; } = [];

    /// <summary>Volumes on an installed system; COS_PERSISTENT at <c>/usr/local</c> by default.</summary>
    public IReadOnlyList<VolumeMount> Volumes { get; init; } =
        [new VolumeMount(DeviceReference.Label(BootKeys.PersistentLabel), "/usr/local")];

    /// <summary>What backs the overlays' upper dirs: <c>tmpfs:SIZE</c> or a device (Kairos <c>OVERLAY</c>).</summary>
    public string OverlayBase { get; init; } = "tmpfs:25%";

    /// <summary>Where the persistent copies live (Kairos <c>PERSISTENT_STATE_TARGET</c>).</summary>
    public string PersistentStateTarget { get; init; } = "/usr/local/.state";

    /// <summary>Where the new root is assembled in the initramfs.</summary>
    public string Sysroot { get; init; } = "/sysroot";

    /// <summary>The init the new root is handed to.</summary>
    public string Init { get; init; } = "/sbin/init";

    /// <summary>The persistent bind paths in mount order (parents before children), duplicates removed.</summary>
    public IReadOnlyList<string> AllPersistentPaths() =>
        PersistentPaths.Concat(CustomBindMounts).Select(NormalizePath).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public IReadOnlyList<string> AllEphemeralPaths(bool persistent) =>
        (persistent ? EphemeralPaths.Concat(CustomEphemeralMounts) : NonPersistentEphemeralPaths.Concat(CustomEphemeralMounts))
        .Select(NormalizePath).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Kairos's name of a path's persistent copy: <c>/etc/ssh</c> → <c>etc-ssh.bind</c>.</summary>
    public static string BindDirectoryName(string path) => NormalizePath(path).TrimStart('/').Replace('/', '-') + ".bind";

    /// <summary>Rejects layouts that cannot be mounted; returns the layout for chaining.</summary>
    public MountLayout Validate()
    {
        foreach (var path in PersistentPaths.Concat(CustomBindMounts).Concat(EphemeralPaths).Concat(CustomEphemeralMounts)
                     .Concat(NonPersistentEphemeralPaths).Concat(Volumes.Select(v => v.MountPoint))
                     .Append(PersistentStateTarget).Append(Sysroot).Append(Init))
        {
            CheckPath(path);
        }

        var ephemeral = AllEphemeralPaths(persistent: true);
        foreach (var path in ephemeral)
        {
            // Volumes are mounted before the overlays (the config is read from them): an overlay on a
            // volume's mount point or on one of its parents would hide the volume.
            if (Volumes.FirstOrDefault(v => IsUnder(v.MountPoint, path)) is { } volume)
            {
                throw new InvalidMountLayoutException(
                    $"the ephemeral path '{path}' would hide the volume mounted at {volume.MountPoint}",
                    $"ephemeral paths must not be {volume.MountPoint} or one of its parents; pick a directory beside or below it");
            }
        }

        foreach (var path in AllPersistentPaths())
        {
            if (path == "/" || Volumes.Any(v => IsUnder(v.MountPoint, path)))
            {
                throw new InvalidMountLayoutException(
                    $"'{path}' cannot be a persistent bind path: it is the root, a volume mount point or one of its parents",
                    "bind paths are directories inside the system, e.g. /etc/ssh or /var/lib/mydata");
            }

            if (ephemeral.FirstOrDefault(e => e != path && IsUnder(e, path)) is { } hidden)
            {
                throw new InvalidMountLayoutException(
                    $"the ephemeral path '{hidden}' lies inside the persistent path '{path}', whose bind mount would hide it",
                    $"drop '{hidden}' from the ephemeral mounts or '{path}' from the persistent ones");
            }

            if (ephemeral.Contains(path))
            {
                throw new InvalidMountLayoutException(
                    $"'{path}' is both persistent (bind mount) and ephemeral (overlay)",
                    $"remove '{path}' from one of the two lists");
            }
        }

        if (!Volumes.Any(v => IsUnder(PersistentStateTarget, v.MountPoint)) && AllPersistentPaths().Count > 0)
        {
            throw new InvalidMountLayoutException(
                $"the persistent state target '{PersistentStateTarget}' is on no volume, so bind paths would not persist",
                "keep COS_PERSISTENT mounted at /usr/local (the default) or move the state target under a volume");
        }

        OverlayBacking.Parse(OverlayBase, "OverlayBase");
        return this;
    }

    internal static string NormalizePath(string path)
    {
        var trimmed = path.TrimEnd('/');
        return trimmed.Length == 0 ? "/" : trimmed;
    }

    public static bool IsUnder(string path, string directory)
    {
        var p = NormalizePath(path);
        var d = NormalizePath(directory);
        return p == d || d == "/" || p.StartsWith(d + "/", StringComparison.Ordinal);
    }

    private static void CheckPath(string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Split('/').Any(part => part is "." or "..") || path.Any(c => char.IsWhiteSpace(c) || c == ':' || c == ','))
        {
            throw new InvalidMountLayoutException(
                $"'{path}' is not a usable mount path",
                "use absolute paths without '.', '..', spaces, ':' or ','");
        }
    }
}

/// <summary>Kairos's <c>OVERLAY</c> setting: <c>tmpfs:25%</c> (a size) or a device (<c>LABEL=X</c>, <c>block:/dev/x</c>).</summary>
public sealed record OverlayBacking(string? TmpfsSize, DeviceReference? Device)
{
    public static OverlayBacking Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith("tmpfs:", StringComparison.Ordinal))
        {
            var size = text["tmpfs:".Length..];
            var number = size.TrimEnd('%', 'k', 'K', 'm', 'M', 'g', 'G');
            if (number.Length > 0 && number.Length >= size.Length - 1 && long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                return new OverlayBacking(size, null);
            }
        }
        else if (DeviceReference.TryParse(text.StartsWith("block:", StringComparison.Ordinal) ? text["block:".Length..] : text, out var device))
        {
            return new OverlayBacking(null, device);
        }

        throw new InvalidBootCommandLineException(
            $"overlay backing '{text}' (from {source}) is neither tmpfs:SIZE nor a device",
            "write e.g. 'tmpfs:25%', 'tmpfs:512m', 'LABEL=COS_OVERLAY' or 'block:/dev/vdb1'");
    }
}
