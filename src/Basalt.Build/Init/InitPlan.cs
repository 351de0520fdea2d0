using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Basalt.Boot.Grub;
using Basalt.Boot.Mounting;
using Basalt.Platform;

namespace Basalt.Build.Init;

/// <summary>What the caller asks of init.</summary>
public sealed record InitOptions
{
    /// <summary>The root filesystem to turn into a Basalt OS tree; "/" runs in place (a Dockerfile RUN step).</summary>
    public string Root { get; init; } = "/";

    /// <summary>The basalt executable placed at /usr/bin/basalt; null: the running process's own file.</summary>
    public string? BasaltBinary { get; init; }

    /// <summary>Written as BASALT_VERSION; null: this assembly's version.</summary>
    public string? Version { get; init; }

    /// <summary>Written as BASALT_IMAGE_REF when set.</summary>
    public string? ImageReference { get; init; }

    /// <summary>BASALT_BUILD_DATE; null keeps the date already recorded for the same version, else now.</summary>
    public DateTimeOffset? BuildDate { get; init; }

    /// <summary>A crypt(3) hash for root; null leaves root's password locked.</summary>
    public string? RootPasswordHash { get; init; }

    /// <summary>Debian architecture name (amd64, arm64); null: the host's.</summary>
    public string? Architecture { get; init; }

    /// <summary>Install missing packages; off: fail later if the tree lacks what it needs.</summary>
    public bool InstallPackages { get; init; } = true;

    public static string DefaultVersion =>
        typeof(InitOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(InitOptions).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";

    public static string HostArchitecture => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        var other => other.ToString().ToLowerInvariant(),
    };
}

/// <summary>A file init makes sure exists with this content and mode (path inside the root).</summary>
public sealed record PlannedFile(string Path, string Content, UnixFileMode Mode);

/// <summary>
/// Everything init will do to a root filesystem, decided before anything is touched: printable
/// (<see cref="Describe"/>) and unit-tested. <see cref="InitExecutor"/> carries it out.
/// </summary>
public sealed record InitPlan
{
    public required string Root { get; init; }

    /// <summary>True when the root is "/": commands run directly, nothing is chrooted or mounted.</summary>
    public required bool InPlace { get; init; }

    public required Distro Distro { get; init; }

    public required string Architecture { get; init; }

    public required PackageSelection Packages { get; init; }

    public required IReadOnlyList<PackageCommand> PackageCommands { get; init; }

    public required IReadOnlyList<PlannedFile> Files { get; init; }

    /// <summary>
    /// Mount points the read-only root must already carry: nothing can create them once the image is mounted
    /// read-only (<c>/oem</c>, <c>/usr/local</c>, persistent bind paths outside the ephemeral overlays).
    /// </summary>
    public IReadOnlyList<string> MountPoints { get; init; } = [];

    /// <summary>Host path of the binary copied to /usr/bin/basalt.</summary>
    public required string BasaltBinary { get; init; }

    /// <summary>Units enabled by linking them into their targets' .wants directories, as systemctl enable does.</summary>
    public required IReadOnlyList<string> UnitsToEnable { get; init; }

    /// <summary>Null: lock root's password; otherwise set this hash.</summary>
    public string? RootPasswordHash { get; init; }

    public string Describe()
    {
        var text = new StringBuilder();
        text.Append("init ").Append(Root).Append(InPlace ? " (in place)" : " (chroot)").Append('\n');
        text.Append("  distribution: ").Append(Distro.PrettyName).Append(" [").Append(Distro.Family).Append(", ").Append(Architecture).Append("]\n");
        text.Append("  packages needed: ").Append(string.Join(' ', Packages.Required)).Append('\n');
        text.Append("  packages to install: ").Append(Packages.Missing.Count == 0 ? "(none)" : string.Join(' ', Packages.Missing)).Append('\n');
        foreach (var command in PackageCommands)
        {
            text.Append("    run: ").Append(command).Append('\n');
        }

        text.Append("  basalt binary: ").Append(BasaltBinary).Append(" -> ").Append(InitFiles.BasaltBinaryPath).Append('\n');
        foreach (var file in Files)
        {
            text.Append("  file: ").Append(file.Path).Append(" (").Append(Convert.ToString((int)file.Mode, 8)).Append(")\n");
        }

        text.Append("  mount points: ").Append(string.Join(' ', MountPoints)).Append('\n');
        text.Append("  enable: ").Append(string.Join(' ', UnitsToEnable)).Append('\n');
        text.Append("  machine-id: emptied (each node makes its own)\n");
        text.Append("  root password: ").Append(RootPasswordHash is null ? "locked" : "set from configuration").Append('\n');
        text.Append("  kernel: ").Append(InitFiles.KernelPath).Append(" -> newest /boot/vmlinuz-VERSION\n");
        text.Append("  initramfs: ").Append(InitFiles.InitrdPath).Append(" (mkinitramfs, generic, with the Basalt hook)\n");
        return text.ToString();
    }
}

/// <summary>Computes an <see cref="InitPlan"/> from the root filesystem's current state. Reads files only.</summary>
public sealed class InitPlanner
{
    private const UnixFileMode Regular = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Executable = Regular | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly Func<DateTimeOffset> _clock;
    private readonly Func<DistroFamily, IPackageManager> _packageManagers;

    public InitPlanner(Func<DateTimeOffset>? clock = null, Func<DistroFamily, IPackageManager>? packageManagers = null)
    {
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _packageManagers = packageManagers ?? PackageManagers.For;
    }

    public InitPlan Plan(InitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = Path.GetFullPath(options.Root);
        if (!Directory.Exists(root))
        {
            throw new InitRootNotFoundException(options.Root);
        }

        var binary = options.BasaltBinary ?? Environment.ProcessPath;
        if (binary is null || !File.Exists(binary))
        {
            throw new BasaltBinaryNotFoundException(binary);
        }

        if (File.Exists(binary + ".runtimeconfig.json") && File.Exists(binary + ".dll"))
        {
            throw new BasaltBinaryNotSelfContainedException(binary);
        }

        var osRelease = Distro.ReadOsRelease(root);
        var distro = Distro.Detect(osRelease);
        var architecture = options.Architecture ?? InitOptions.HostArchitecture;
        var manager = _packageManagers(distro.Family);
        var selection = manager.Select(root, distro, architecture);
        var missing = options.InstallPackages ? selection.Missing : [];
        var commands = manager.InstallCommands(missing);

        var files = new List<PlannedFile>
        {
            new(InitFiles.NetworkFilePath, InitFiles.WiredNetwork(), Regular),
            new($"{InitFiles.UnitDirectory}/{InitFiles.BootCompleteUnit}", InitFiles.BootCompleteService(), Regular),
        };
        files.AddRange(InitFiles.SystemdStages.Select(stage =>
            new PlannedFile($"{InitFiles.UnitDirectory}/{InitFiles.StageUnitName(stage)}", InitFiles.StageService(stage), Regular)));
        files.Add(new($"{InitFiles.UnitDirectory}/{InitFiles.ReconcileService}", InitFiles.ReconcileServiceUnit(), Regular));
        files.Add(new($"{InitFiles.UnitDirectory}/{InitFiles.ReconcileTimer}", InitFiles.ReconcileTimerUnit(), Regular));
        files.Add(new($"{InitFiles.UnitDirectory}/{InitFiles.ResetUnit}", InitFiles.ResetService(), Regular));
        files.Add(new($"{InitFiles.UnitDirectory}/{InitFiles.RecoverUnit}", InitFiles.RecoverService(), Regular));
        files.Add(new($"{InitFiles.UnitDirectory}/{InitFiles.AutoInstallUnit}", InitFiles.AutoInstallService(), Regular));
        files.Add(new(InitFiles.InitramfsHookPath, InitFiles.InitramfsHook(), Executable));
        files.Add(new(InitFiles.InitramfsScriptPath, InitFiles.InitramfsBootScript(), Regular));
        files.Add(new(InitFiles.InitramfsModulesPath, InitFiles.InitramfsModulesFile(), Regular));
        files.Add(new(InitFiles.InitramfsConfPath, InitFiles.InitramfsConf(), Regular));
        files.Add(new(InitFiles.FstabPath, InitFiles.Fstab(), Regular));
        files.Add(new(GrubPaths.ImageMenuConfig, InitFiles.GrubMenu(), Regular));
        files.Add(new(GrubPaths.ImageBootArguments, InitFiles.GrubBootArguments(), Regular));
        files.Add(OsReleaseFile(root, osRelease, options));

        var units = new List<string> { "systemd-networkd.service" };
        if (SystemdUnits.Find(root, "systemd-resolved.service") is not null)
        {
            units.Add("systemd-resolved.service");
        }

        units.Add(InitFiles.BootCompleteUnit);
        units.AddRange(InitFiles.SystemdStages.Select(InitFiles.StageUnitName));
        units.Add(InitFiles.ReconcileTimer);
        units.Add(InitFiles.ResetUnit);
        units.Add(InitFiles.RecoverUnit);
        units.Add(InitFiles.AutoInstallUnit);

        return new InitPlan
        {
            Root = root,
            InPlace = root == "/",
            Distro = distro,
            Architecture = architecture,
            Packages = selection with { Missing = missing },
            PackageCommands = commands,
            Files = files,
            BasaltBinary = Path.GetFullPath(binary),
            UnitsToEnable = units,
            MountPoints = InitFiles.MountPoints(MountLayout.Default),
            RootPasswordHash = options.RootPasswordHash,
        };
    }

    /// <summary>
    /// The distribution's os-release with the Basalt keys. It is written where /etc/os-release really
    /// lives (often /usr/lib/os-release behind a link). The build date is kept when nothing else
    /// changed, so a second init over the same tree writes nothing.
    /// </summary>
    private PlannedFile OsReleaseFile(string root, OsRelease current, InitOptions options)
    {
        var version = options.Version ?? InitOptions.DefaultVersion;
        var changes = new List<KeyValuePair<string, string>> { new("BASALT_VERSION", version) };
        if (options.ImageReference is { } reference)
        {
            changes.Add(new("BASALT_IMAGE_REF", reference));
        }

        var unchanged = changes.All(change => current.Get(change.Key) == change.Value);
        var date = options.BuildDate
            ?? (unchanged && current.Get("BASALT_BUILD_DATE") is { } kept ? null : _clock());
        var merged = current.With(changes);
        if (date is { } when)
        {
            merged = merged.With([new("BASALT_BUILD_DATE", when.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture))]);
        }

        var etc = RootedPath.Resolve(root, "/etc/os-release");
        var target = File.Exists(etc) ? RootedPath.ToRootPath(root, etc) : "/etc/os-release";
        return new PlannedFile(target, merged.ToString(), Regular);
    }
}
