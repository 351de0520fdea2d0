using System.Globalization;
using System.Text;
using Basalt.Disk;
using Basalt.Oci.Registry;

namespace Basalt.Build.Demo;

/// <summary>The steps of <c>basalt demo</c>, in the order they run.</summary>
public enum DemoStep
{
    Packages,
    Base,
    Init,
    Registry,
    PushV1,
    PushV2,
    Disk,
    BootV1,
    Upgrade,
    RebootV2,
    PowerOff,
}

/// <summary>One step of the plan: what it does, or why it is skipped.</summary>
public sealed record DemoPhase(DemoStep Step, string Title, string? SkippedBecause = null)
{
    public bool Skipped => SkippedBecause is not null;
}

/// <summary>What <c>basalt demo</c> is asked to do.</summary>
public sealed record DemoOptions
{
    public const string DefaultRootPassword = "basalt";

    /// <summary>Room for three slot images on COS_STATE, and on COS_PERSISTENT for the blob store plus the unpacked staging tree.</summary>
    public const long DefaultDiskBytes = 10L * ByteSize.GiB;

    /// <summary>Where the disk, the VM's files, the registry's storage and the extra layer live; removed at the end.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>Where the debootstrap base (<c>build/</c>, shared with <c>basalt build base</c>) and the init'd OS tree (<c>demo/</c>) are kept between runs.</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>An existing Basalt OS tree used as is (never written); null: the demo makes its own from the default base.</summary>
    public string? OsTree { get; init; }

    /// <summary>The CI variant: needs <see cref="OsTree"/>, installs no packages, keeps nothing in the cache.</summary>
    public bool Quick { get; init; }

    /// <summary>Install missing apt packages without asking, even on a terminal.</summary>
    public bool AssumeYes { get; init; }

    /// <summary>root's password on the serial console: set on the demo's own tree; what <see cref="OsTree"/> already has otherwise.</summary>
    public string RootPassword { get; init; } = DefaultRootPassword;

    /// <summary>The local registry's port on 127.0.0.1; null: a free one.</summary>
    public int? RegistryPort { get; init; }

    public long DiskBytes { get; init; } = DefaultDiskBytes;

    public int MemoryMiB { get; init; } = 2048;

    public int Cpus { get; init; } = 2;

    /// <summary>The Debian mirror of the default base; null: the one this machine's apt uses.</summary>
    public Uri? Mirror { get; init; }

    /// <summary>How long one boot may take up to the login prompt (TCG on a loaded machine is slow).</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long the in-guest upgrade may take: it unpacks the whole tree and builds an ext4 image under TCG.</summary>
    public TimeSpan UpgradeTimeout { get; init; } = TimeSpan.FromMinutes(40);
}

/// <summary>What the host looks like to the planner: gathered by the executor, given by unit tests.</summary>
public sealed record DemoHost(bool IsRoot, bool InputIsTerminal, IReadOnlyList<HostRequirement> MissingRequirements);

/// <summary>Everything <c>basalt demo</c> will do, decided before anything starts: printable (<c>--dry-run</c>) and testable.</summary>
public sealed record DemoPlan
{
    /// <summary>The repository the two images are pushed to in the local registry.</summary>
    public const string Repository = "basalt-demo/os";

    /// <summary>The file the v2 layer adds: present after the upgrade, absent before.</summary>
    public const string MarkerPath = "/usr/share/basalt-demo/version";

    public const string MarkerContent = "v2";

    public required DemoOptions Options { get; init; }

    public required IReadOnlyList<DemoPhase> Phases { get; init; }

    /// <summary>Debian packages to install before anything else (empty: all there).</summary>
    public required IReadOnlyList<string> PackagesToInstall { get; init; }

    /// <summary>The OS tree v1 is made from: the given one, or the cached init'd tree.</summary>
    public required string OsTreeDirectory { get; init; }

    /// <summary>True when the demo makes (or reuses) its own OS tree in the cache.</summary>
    public bool OwnsOsTree => Options.OsTree is null;

    public string DiskPath => Path.Combine(Options.WorkDirectory, "node.raw");

    public string RegistryDirectory => Path.Combine(Options.WorkDirectory, "registry");

    public string VmDirectory => Path.Combine(Options.WorkDirectory, "vm");

    public string LayersDirectory => Path.Combine(Options.WorkDirectory, "layers");

    /// <summary>
    /// What becomes COS_PERSISTENT: the node's blob store holding v1's layer, so the upgrade fetches only v2's. Kept
    /// beside the demo's own cached tree (v1 is then pushed from it as is on the next run); in the work directory for
    /// a given tree.
    /// </summary>
    public string PersistentContentDirectory => OwnsOsTree ? DemoOsTree.NodeDirectory(OsTreeDirectory) : Path.Combine(Options.WorkDirectory, "persistent");

    /// <summary>Where the disk built from the demo's own tree is kept for the next run; null for a given tree (nothing of it is cached).</summary>
    public string? DiskCacheDirectory => OwnsOsTree ? Path.Combine(Path.GetDirectoryName(OsTreeDirectory)!, "disk") : null;

    /// <summary>Where the debootstrap base lives (the same place <c>basalt build base</c> keeps it).</summary>
    public string BaseCacheDirectory => Path.Combine(Options.CacheDirectory, "build");

    /// <summary>Where the init'd OS trees live, one per basalt binary.</summary>
    public string OsTreeCacheDirectory => Path.Combine(Options.CacheDirectory, "demo");

    public bool Runs(DemoStep step) => Phases.Any(phase => phase.Step == step && !phase.Skipped);

    public string Describe()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"work directory {Options.WorkDirectory} (removed at the end)\n");
        text.Append(CultureInfo.InvariantCulture, $"cache directory {Options.CacheDirectory}\n");
        text.Append(CultureInfo.InvariantCulture, $"OS tree {OsTreeDirectory}{(OwnsOsTree ? " (made once per basalt binary, then reused)" : " (given, used as is)")}\n");
        text.Append(CultureInfo.InvariantCulture, $"disk {DiskPath}, {ByteSize.Format(Options.DiskBytes)} sparse; VM {Options.MemoryMiB} MiB, {Options.Cpus} CPUs, TCG\n");
        text.Append(CultureInfo.InvariantCulture, $"registry 127.0.0.1:{(Options.RegistryPort is { } port ? port.ToString(CultureInfo.InvariantCulture) : "(a free port)")}, repository {Repository}\n");
        for (var index = 0; index < Phases.Count; index++)
        {
            var phase = Phases[index];
            text.Append(CultureInfo.InvariantCulture, $"{index + 1,2}. {phase.Title}{(phase.Skipped ? $" (skipped: {phase.SkippedBecause})" : string.Empty)}\n");
        }

        return text.ToString();
    }
}

/// <summary>Turns <see cref="DemoOptions"/> and what the host looks like into a <see cref="DemoPlan"/>. Reads nothing itself.</summary>
public static class DemoPlanner
{
    /// <param name="isOsTree">Whether a directory is a Basalt OS tree (<see cref="DemoOsTree.IsOsTree"/>).</param>
    /// <param name="isPortFree">Whether 127.0.0.1:port can be listened on.</param>
    public static DemoPlan Plan(DemoOptions options, DemoHost host, Func<string, bool> isOsTree, Func<int, bool> isPortFree)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(isOsTree);
        ArgumentNullException.ThrowIfNull(isPortFree);
        ArgumentException.ThrowIfNullOrEmpty(options.WorkDirectory);
        ArgumentException.ThrowIfNullOrEmpty(options.CacheDirectory);
        if (options.Quick && options.OsTree is null)
        {
            throw new DemoOptionException("--quick needs --os-tree", "give --os-tree DIR, a Basalt OS tree made by basalt init --root (the end-to-end fixture's, for instance)");
        }

        if (options.OsTree is { } given && !isOsTree(given))
        {
            throw new DemoOsTreeInvalidException(given);
        }

        if (options.RegistryPort is { } port && port is <= 0 or > 65535)
        {
            throw new DemoOptionException(string.Create(CultureInfo.InvariantCulture, $"--registry-port {port} is not a port"), "give a port between 1 and 65535, or leave it out");
        }

        if (options.RegistryPort is { } wanted && !isPortFree(wanted))
        {
            throw new RegistryPortInUseException(wanted, "something already listens there");
        }

        if (options.DiskBytes < 4 * ByteSize.GiB)
        {
            throw new DemoOptionException($"a {ByteSize.Format(options.DiskBytes)} disk cannot hold the upgrade", "give the disk at least 4G: it holds three slot images and the staged upgrade");
        }

        if (string.IsNullOrEmpty(options.RootPassword) || options.RootPassword.Contains('\n', StringComparison.Ordinal))
        {
            throw new DemoOptionException("the root password must be one non-empty line", "pass --root-password with a plain one-line password");
        }

        var packages = host.MissingRequirements.Select(requirement => requirement.Package).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (packages.Count > 0)
        {
            var reason = !host.IsRoot ? "installing them needs root"
                : options.Quick ? "--quick installs nothing"
                : host.InputIsTerminal && !options.AssumeYes ? "this is a terminal and --yes was not given"
                : null;
            if (reason is not null)
            {
                throw new DemoPackagesMissingException(host.MissingRequirements, reason);
            }
        }

        if (!host.IsRoot)
        {
            throw new DemoRequiresRootException();
        }

        var ownTree = options.OsTree is null;
        var osTree = options.OsTree is { } tree ? Path.GetFullPath(tree) : Path.Combine(options.CacheDirectory, "demo", "os", "rootfs");
        var phases = new List<DemoPhase>
        {
            new(DemoStep.Packages, packages.Count == 0 ? "check the host's packages" : $"install {string.Join(' ', packages)} (apt-get)"),
            new(DemoStep.Base, "build or reuse the default Debian base (debootstrap)", ownTree ? null : "--os-tree given"),
            new(DemoStep.Init, "basalt init the OS tree (cached per basalt binary)", ownTree ? null : "--os-tree given"),
            new(DemoStep.Registry, "start a local registry on 127.0.0.1"),
            new(DemoStep.PushV1, ownTree ? "push image v1: the OS tree as one layer (its blobs cached with the tree)" : "push image v1: the OS tree as one layer"),
            new(DemoStep.PushV2, $"push image v2: v1 + a layer adding {DemoPlan.MarkerPath}"),
            new(DemoStep.Disk, ownTree ? "build a disk from v1, or copy the one cached for it (every slot recorded as v1)" : "build a disk from v1 (every slot recorded as v1)"),
            new(DemoStep.BootV1, "boot the disk in QEMU, log in, basalt state"),
            new(DemoStep.Upgrade, "basalt upgrade to v2 from the registry, in the guest"),
            new(DemoStep.RebootV2, "reboot into v2, basalt state, check the marker"),
            new(DemoStep.PowerOff, "power off"),
        };
        return new DemoPlan { Options = options, Phases = phases, PackagesToInstall = packages, OsTreeDirectory = osTree };
    }
}
