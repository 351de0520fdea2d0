namespace Basalt.Build.Init;

/// <summary>What the OS needs and which of it is missing from a root filesystem.</summary>
public sealed record PackageSelection(IReadOnlyList<string> Required, IReadOnlyList<string> Missing);

/// <summary>One command run inside the root (through chroot, or directly when the root is /).</summary>
public sealed record PackageCommand(IReadOnlyList<string> Arguments)
{
    public override string ToString() => string.Join(' ', Arguments);
}

/// <summary>
/// The seam per distribution family: which packages an OS needs, which are installed, how to
/// install them. Only reads files of the root (no process runs), so plans stay pure.
/// </summary>
public interface IPackageManager
{
    DistroFamily Family { get; }

    /// <summary>The packages Basalt needs in <paramref name="root"/> and the ones not installed yet.</summary>
    PackageSelection Select(string root, Distro distro, string architecture);

    /// <summary>The commands that install <paramref name="packages"/>, in order.</summary>
    IReadOnlyList<PackageCommand> InstallCommands(IReadOnlyList<string> packages);

    /// <summary>Environment for those commands (non-interactive front ends).</summary>
    IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>Removes package indexes and downloaded archives the image does not need.</summary>
    void CleanCaches(string root);
}

public static class PackageManagers
{
    public static IPackageManager For(DistroFamily family) => family switch
    {
        DistroFamily.Debian => new AptPackageManager(),
        DistroFamily.Fedora => new DnfPackageManager(),
        DistroFamily.Suse => new ZypperPackageManager(),
        DistroFamily.Alpine => new ApkPackageManager(),
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "unknown distribution family"),
    };
}

/// <summary>Debian and Ubuntu: dpkg status for what is installed, apt-get to install.</summary>
public sealed class AptPackageManager : IPackageManager
{
    /// <summary>Everything a Basalt node needs besides the kernel, by Debian package name.</summary>
    public static readonly IReadOnlyList<string> BasePackages =
    [
        "systemd", "systemd-sysv", "udev", "kmod", "initramfs-tools", "busybox",
        "e2fsprogs", "dosfstools", "squashfs-tools", "grub-common", "iproute2", "ca-certificates",
        // basalt install builds the ESP with mtools (mmd, mcopy), as the disk builder does on the host.
        "mtools",
        // The initramfs of a netbooted node downloads its root squashfs with curl (basalt.live.url=).
        "curl",
    ];

    public DistroFamily Family => DistroFamily.Debian;

    public IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["DEBIAN_FRONTEND"] = "noninteractive",
        ["DEBCONF_NONINTERACTIVE_SEEN"] = "true",
        ["LC_ALL"] = "C",
    };

    public PackageSelection Select(string root, Distro distro, string architecture)
    {
        ArgumentNullException.ThrowIfNull(distro);
        var required = new List<string>();
        if (!HasKernel(root))
        {
            required.Add(KernelPackage(distro, architecture));
        }

        required.AddRange(BasePackages);
        required.Add(GrubEfiPackage(architecture));
        var installed = InstalledPackages(root);
        return new PackageSelection(required, required.Where(p => !installed.Contains(p)).ToList());
    }

    public IReadOnlyList<PackageCommand> InstallCommands(IReadOnlyList<string> packages)
    {
        ArgumentNullException.ThrowIfNull(packages);
        if (packages.Count == 0)
        {
            return [];
        }

        return
        [
            new PackageCommand(["apt-get", "update"]),
            new PackageCommand(["apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", .. packages]),
            new PackageCommand(["apt-get", "clean"]),
        ];
    }

    public void CleanCaches(string root)
    {
        var lists = RootedPath.Resolve(root, "/var/lib/apt/lists");
        if (Directory.Exists(lists))
        {
            foreach (var file in Directory.EnumerateFiles(lists))
            {
                if (Path.GetFileName(file) != "lock")
                {
                    File.Delete(file);
                }
            }
        }

        var archives = RootedPath.Resolve(root, "/var/cache/apt/archives");
        if (Directory.Exists(archives))
        {
            foreach (var file in Directory.EnumerateFiles(archives, "*.deb"))
            {
                File.Delete(file);
            }
        }

        foreach (var cache in new[] { "/var/cache/apt/pkgcache.bin", "/var/cache/apt/srcpkgcache.bin" })
        {
            var path = RootedPath.Resolve(root, cache);
            if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>Packages dpkg records as "install ok installed" in the root.</summary>
    public static IReadOnlySet<string> InstalledPackages(string root)
    {
        var status = RootedPath.Resolve(root, "/var/lib/dpkg/status");
        return File.Exists(status) ? ParseStatus(File.ReadAllText(status)) : new HashSet<string>(StringComparer.Ordinal);
    }

    public static IReadOnlySet<string> ParseStatus(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var installed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stanza in text.Replace("\r", string.Empty, StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            string? state = null;
            foreach (var line in stanza.Split('\n'))
            {
                if (line.StartsWith("Package:", StringComparison.Ordinal))
                {
                    name = line["Package:".Length..].Trim();
                }
                else if (line.StartsWith("Status:", StringComparison.Ordinal))
                {
                    state = line["Status:".Length..].Trim();
                }
            }

            if (name is not null && state is not null && state.EndsWith(" installed", StringComparison.Ordinal) && !state.Contains("not-installed", StringComparison.Ordinal))
            {
                installed.Add(name);
            }
        }

        return installed;
    }

    /// <summary>A kernel is present when some /boot/vmlinuz-VERSION exists.</summary>
    public static bool HasKernel(string root)
    {
        var boot = RootedPath.Resolve(root, "/boot");
        return Directory.Exists(boot) && Directory.EnumerateFiles(boot, "vmlinuz-*").Any();
    }

    public static string KernelPackage(Distro distro, string architecture)
    {
        ArgumentNullException.ThrowIfNull(distro);
        return distro.Id == "ubuntu" ? "linux-image-generic" : $"linux-image-{architecture}";
    }

    public static string GrubEfiPackage(string architecture) => $"grub-efi-{architecture}-bin";
}

/// <summary>Fedora, RHEL, Rocky, Alma: not supported yet; says so before anything is touched.</summary>
public sealed class DnfPackageManager : IPackageManager
{
    public DistroFamily Family => DistroFamily.Fedora;

    public IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public PackageSelection Select(string root, Distro distro, string architecture) => throw NotSupported();

    public IReadOnlyList<PackageCommand> InstallCommands(IReadOnlyList<string> packages) => throw NotSupported();

    public void CleanCaches(string root) => throw NotSupported();

    private PackageManagerNotSupportedException NotSupported() => new(Family, "dnf");
}

/// <summary>openSUSE and SLES: not supported yet; says so before anything is touched.</summary>
public sealed class ZypperPackageManager : IPackageManager
{
    public DistroFamily Family => DistroFamily.Suse;

    public IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public PackageSelection Select(string root, Distro distro, string architecture) => throw NotSupported();

    public IReadOnlyList<PackageCommand> InstallCommands(IReadOnlyList<string> packages) => throw NotSupported();

    public void CleanCaches(string root) => throw NotSupported();

    private PackageManagerNotSupportedException NotSupported() => new(Family, "zypper");
}

/// <summary>Alpine: not supported yet (no systemd); says so before anything is touched.</summary>
public sealed class ApkPackageManager : IPackageManager
{
    public DistroFamily Family => DistroFamily.Alpine;

    public IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public PackageSelection Select(string root, Distro distro, string architecture) => throw NotSupported();

    public IReadOnlyList<PackageCommand> InstallCommands(IReadOnlyList<string> packages) => throw NotSupported();

    public void CleanCaches(string root) => throw NotSupported();

    private PackageManagerNotSupportedException NotSupported() => new(Family, "apk");
}
