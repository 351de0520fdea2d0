using System.Globalization;
using System.Text;
using Basalt.Build.Artifacts;
using Basalt.Disk;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.Build.Vm;

/// <summary>What <c>basalt vm</c> is asked to do.</summary>
public sealed record VmLaunchOptions
{
    /// <summary>The size of the blank target disk an installer artifact gets.</summary>
    public const long DefaultTargetDiskBytes = 16 * ByteSize.GiB;

    /// <summary>The name the extra cloud-config gets on COS_OEM: after the build's 90_custom.yaml, so it wins the merge.</summary>
    public const string CloudConfigName = "99_basalt-vm.yaml";

    /// <summary>A raw or qcow2 disk, an ISO, or a netboot directory; never written.</summary>
    public required string ArtifactPath { get; init; }

    /// <summary>Where the overlay, target disk and firmware variables live while the VM runs; removed afterwards.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>The blank target disk's size for an ISO or netboot; null: <see cref="DefaultTargetDiskBytes"/>. Not for disks.</summary>
    public long? TargetDiskBytes { get; init; }

    public int MemoryMiB { get; init; } = 2048;
    public int Cpus { get; init; } = 2;
    public IReadOnlyList<PortForward> PortForwards { get; init; } = [];

    /// <summary>A cloud-config the booted disk reads from /oem (raw disks only).</summary>
    public string? CloudConfigPath { get; init; }

    public VmAccelerator Accelerator { get; init; } = VmAccelerator.Auto;
    public string OvmfCodePath { get; init; } = new VmSpec().OvmfCodePath;
    public string OvmfVarsTemplatePath { get; init; } = new VmSpec().OvmfVarsTemplatePath;
}

/// <summary>A qcow2 file made before boot: an overlay over a backing file, or a blank disk.</summary>
public sealed record VmPreparedDisk(string Path, long? SizeBytes, string? BackingPath, string? BackingFormat)
{
    /// <summary>The <c>qemu-img</c> arguments that make it.</summary>
    public IReadOnlyList<string> QemuImgArguments
    {
        get
        {
            var arguments = new List<string> { "create", "-q", "-f", "qcow2" };
            if (BackingPath is not null)
            {
                arguments.AddRange(["-b", BackingPath, "-F", BackingFormat ?? "raw"]);
            }

            arguments.Add(Path);
            if (SizeBytes is { } size)
            {
                arguments.Add(size.ToString(CultureInfo.InvariantCulture));
            }

            return arguments;
        }
    }
}

/// <summary>
/// A cloud-config placed on the overlay's copy of COS_OEM: the partition is copied out of the (raw) artifact, the
/// file written into that copy with debugfs, and the copy written over the partition's range of the overlay.
/// </summary>
public sealed record VmOemInjection(string CloudConfigPath, long PartitionOffsetBytes, long PartitionSizeBytes, string FileName);

/// <summary>
/// A netboot directory made by <c>basalt build netboot</c> whose command line says nothing of where the squashfs is:
/// <c>basalt vm</c> serves the directory itself (and <see cref="CloudConfigPath"/>) on a free port of 127.0.0.1 while
/// the VM runs, and the kernel gets the URLs the guest reaches it at.
/// </summary>
public sealed record VmNetbootServing(string Directory, IReadOnlyList<string> Arguments, string? CloudConfigPath)
{
    /// <summary>What the guest's URLs look like before the port is known (the plan's printout).</summary>
    public const int PortPlaceholder = 0;

    /// <summary>The kernel command line for a server on <paramref name="port"/> of the host.</summary>
    public string CommandLine(int port)
    {
        var baseUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{QemuCommandLine.HostFromGuest}:{port}/"));
        var configUrl = CloudConfigPath is null ? null : new Uri(baseUrl, Netboot.NetbootServerOptions.CloudConfigPath.TrimStart('/'));
        return VmLaunchPlanner.NetbootCommandLine(NetbootArtifactPlan.CommandLineFor(Arguments, baseUrl, configUrl));
    }
}

/// <summary>Everything <c>basalt vm</c> will do, decided before anything is made: printable (<c>--dry-run</c>) and testable.</summary>
public sealed record VmLaunchPlan
{
    public const string VarsFileName = "OVMF_VARS.fd";

    public required VmArtifact Artifact { get; init; }
    public required VmLaunchOptions Options { get; init; }

    /// <summary>TCG or KVM: <see cref="VmAccelerator.Auto"/> already resolved.</summary>
    public required VmAccelerator Accelerator { get; init; }

    /// <summary>The qcow2 files made before boot (the overlay of a disk, the blank target of an installer).</summary>
    public required IReadOnlyList<VmPreparedDisk> PreparedDisks { get; init; }

    public VmOemInjection? OemInjection { get; init; }

    /// <summary>The netboot directory <c>basalt vm</c> serves itself; null when the artifact needs no server.</summary>
    public VmNetbootServing? NetbootServing { get; init; }

    /// <summary>The machine; with <see cref="NetbootServing"/>, its command line names port <see cref="VmNetbootServing.PortPlaceholder"/> until the server has one.</summary>
    public required VmSpec Spec { get; init; }

    /// <summary>The machine once the netboot server listens on <paramref name="port"/>.</summary>
    public VmSpec SpecServedOn(int port) =>
        NetbootServing is { } serving ? Spec with { KernelCommandLine = serving.CommandLine(port) } : Spec;

    public string VarsPath => Path.Combine(Options.WorkDirectory, VarsFileName);

    public IReadOnlyList<string> QemuArguments => QemuArgumentsFor(Spec);

    /// <summary>The QEMU arguments of <paramref name="spec"/> (this plan's machine, e.g. once its netboot server has a port).</summary>
    public IReadOnlyList<string> QemuArgumentsFor(VmSpec spec) => QemuCommandLine.Build(spec, VarsPath, kvmUsable: Accelerator == VmAccelerator.Kvm);

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"artifact {Artifact.Path} ({Artifact.KindName}), never written\n");
        text.Append(CultureInfo.InvariantCulture, $"work directory {Options.WorkDirectory} (removed when the VM stops)\n");
        foreach (var disk in PreparedDisks)
        {
            text.Append(CultureInfo.InvariantCulture, $"qemu-img {string.Join(' ', disk.QemuImgArguments)}\n");
        }

        if (NetbootServing is { } serving)
        {
            text.Append(CultureInfo.InvariantCulture, $"serve {serving.Directory}{(serving.CloudConfigPath is { } config ? $" and {config}" : string.Empty)} on a free port of 127.0.0.1 while the VM runs (port {VmNetbootServing.PortPlaceholder} below stands for it)\n");
        }

        if (OemInjection is { } oem)
        {
            text.Append(CultureInfo.InvariantCulture, $"cloud-config {oem.CloudConfigPath} -> COS_OEM:/{oem.FileName} on the overlay (partition at {oem.PartitionOffsetBytes}, {ByteSize.Format(oem.PartitionSizeBytes)})\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"{QemuCommandLine.Binary} {string.Join(' ', QemuArguments)}\n");
        return text.ToString();
    }
}

/// <summary>Turns <see cref="VmLaunchOptions"/> into a <see cref="VmLaunchPlan"/>. Reads the artifact's header and GPT; writes nothing.</summary>
public static class VmLaunchPlanner
{
    public const string OverlayName = "overlay.qcow2";
    public const string TargetDiskName = "target.qcow2";

    /// <param name="kvmProblem">Why KVM cannot be used on this host, or null when it can (<see cref="KvmProbe.Problem"/>).</param>
    public static VmLaunchPlan Plan(VmLaunchOptions options, Func<string?> kvmProblem)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kvmProblem);
        ArgumentException.ThrowIfNullOrEmpty(options.WorkDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MemoryMiB, 128);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Cpus, 1);

        var artifact = VmArtifactDetector.Detect(options.ArtifactPath);
        var accelerator = ResolveAccelerator(options.Accelerator, kvmProblem);
        var work = Path.GetFullPath(options.WorkDirectory);
        options = options with { WorkDirectory = work };

        if (artifact.IsDisk && options.TargetDiskBytes is not null)
        {
            throw new VmOptionNotApplicableException("--disk", $"'{artifact.Path}' is a disk and boots at its own size",
                "--disk sizes the blank target disk of an ISO or netboot; to boot a bigger disk, build it with basalt build raw --size");
        }

        var prepared = new List<VmPreparedDisk>();
        var drives = new List<VmDrive>();
        VmOemInjection? injection = null;
        VmNetbootServing? serving = null;
        if (artifact.IsDisk)
        {
            var format = artifact.Kind == VmArtifactKind.Qcow2Disk ? "qcow2" : "raw";
            var overlay = new VmPreparedDisk(Path.Combine(work, OverlayName), null, artifact.Path, format);
            prepared.Add(overlay);
            drives.Add(new VmDrive(overlay.Path, "qcow2"));
            if (options.CloudConfigPath is { } cloudConfig)
            {
                injection = PlanInjection(artifact, cloudConfig);
            }
        }
        else
        {
            var netbootArguments = artifact.Kind == VmArtifactKind.Netboot ? NetbootDirectory.ReadCommandLine(artifact.Path).Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            if (artifact.Kind == VmArtifactKind.Netboot && ServesItself(artifact.Path, netbootArguments))
            {
                serving = new VmNetbootServing(artifact.Path, netbootArguments, null);
                if (options.CloudConfigPath is { } netbootConfig)
                {
                    var full = Path.GetFullPath(netbootConfig);
                    CloudConfigFile.EnsureValid(full);
                    serving = serving with { CloudConfigPath = full };
                }
            }
            else if (options.CloudConfigPath is not null)
            {
                throw new VmOptionNotApplicableException("--cloud-config", $"'{artifact.Path}' is an {artifact.KindName} artifact, whose live system reads no extra drive",
                    artifact.Kind == VmArtifactKind.Iso ? "bake the config into the ISO when building it (basalt build iso --cloud-config FILE)" : "serve the config with the netboot files, or add config_url= to the directory's cmdline file");
            }

            var target = new VmPreparedDisk(Path.Combine(work, TargetDiskName), options.TargetDiskBytes ?? VmLaunchOptions.DefaultTargetDiskBytes, null, null);
            prepared.Add(target);
            drives.Add(new VmDrive(target.Path, "qcow2"));
        }

        var spec = new VmSpec
        {
            Drives = drives,
            CdromPath = artifact.Kind == VmArtifactKind.Iso ? artifact.Path : null,
            KernelPath = artifact.Kind == VmArtifactKind.Netboot ? Path.Combine(artifact.Path, NetbootDirectory.KernelName) : null,
            InitrdPath = artifact.Kind == VmArtifactKind.Netboot ? Path.Combine(artifact.Path, NetbootDirectory.InitrdName) : null,
            KernelCommandLine = serving?.CommandLine(VmNetbootServing.PortPlaceholder)
                ?? (artifact.Kind == VmArtifactKind.Netboot ? NetbootCommandLine(NetbootDirectory.ReadCommandLine(artifact.Path)) : null),
            MemoryMiB = options.MemoryMiB,
            Cpus = options.Cpus,
            PortForwards = options.PortForwards,
            Accelerator = accelerator,
            OvmfCodePath = options.OvmfCodePath,
            OvmfVarsTemplatePath = options.OvmfVarsTemplatePath,
        };

        return new VmLaunchPlan
        {
            Artifact = artifact,
            Options = options,
            Accelerator = accelerator,
            PreparedDisks = prepared,
            OemInjection = injection,
            NetbootServing = serving,
            Spec = spec,
        };
    }

    /// <summary>
    /// A directory from <c>basalt build netboot</c> (it has the squashfs) whose command line names no root and no
    /// download: booted as it is, its live initramfs would find nothing to run.
    /// </summary>
    private static bool ServesItself(string directory, IReadOnlyList<string> arguments) =>
        File.Exists(Path.Combine(directory, NetbootArtifactPlan.SquashfsName))
        && !arguments.Any(word => word.StartsWith("root=", StringComparison.Ordinal) || word.StartsWith(Basalt.Boot.CommandLine.BootKeys.BasaltLiveUrl + "=", StringComparison.Ordinal));

    /// <summary>The directory's command line with the serial console added when it names none, so the terminal shows the boot.</summary>
    public static string NetbootCommandLine(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var hasConsole = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(word => word.StartsWith("console=", StringComparison.Ordinal));
        return hasConsole ? commandLine : (commandLine + " console=ttyS0,115200").Trim();
    }

    public static VmAccelerator ResolveAccelerator(VmAccelerator requested, Func<string?> kvmProblem)
    {
        ArgumentNullException.ThrowIfNull(kvmProblem);
        return requested switch
        {
            VmAccelerator.Tcg => VmAccelerator.Tcg,
            VmAccelerator.Kvm => kvmProblem() is { } problem ? throw new KvmUnavailableException(problem) : VmAccelerator.Kvm,
            _ => kvmProblem() is null ? VmAccelerator.Kvm : VmAccelerator.Tcg,
        };
    }

    private static VmOemInjection PlanInjection(VmArtifact artifact, string cloudConfig)
    {
        if (artifact.Kind != VmArtifactKind.RawDisk)
        {
            throw new VmOptionNotApplicableException("--cloud-config", $"'{artifact.Path}' is a qcow2 disk, whose COS_OEM cannot be read without mounting it",
                "boot the raw disk (basalt build raw), or bake the config in (basalt build qcow2 --cloud-config FILE)");
        }

        var full = Path.GetFullPath(cloudConfig);
        CloudConfigFile.EnsureValid(full);
        var partition = GptReader.FindPartition(artifact.Path, KairosLayout.OemLabel);
        return new VmOemInjection(full, partition.OffsetBytes(), partition.SizeBytes(), VmLaunchOptions.CloudConfigName);
    }
}

/// <summary>
/// Whether this host's KVM can be used: /dev/kvm exists, opens for reading and writing, and really runs a guest.
/// The last check matters: a host whose CPU lacks what KVM needs (nested virtualisation without its features) can
/// offer a /dev/kvm that opens but never runs a single guest instruction, and picking it would hang the VM
/// silently. The test guest is one boot sector that writes <c>KV</c> to the serial port and exits QEMU through
/// <c>isa-debug-exit</c>: under a working KVM it is done in well under a second.
/// </summary>
public static class KvmProbe
{
    public const string DevicePath = "/dev/kvm";

    /// <summary>isa-debug-exit makes QEMU exit with (value &lt;&lt; 1) | 1; the guest writes 0x10.</summary>
    public const int GuestExitCode = 33;

    private const string GuestOutput = "KV";
    private static readonly TimeSpan GuestLimit = TimeSpan.FromSeconds(10);

    /// <summary>mov dx,0x3f8; mov al,'K'; out dx,al; mov al,'V'; out dx,al; mov al,0x10; out 0xf4,al; hlt; jmp hlt.</summary>
    private static readonly byte[] GuestCode = [0xBA, 0xF8, 0x03, 0xB0, 0x4B, 0xEE, 0xB0, 0x56, 0xEE, 0xB0, 0x10, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD];

    /// <summary>Null when KVM is usable, else why not.</summary>
    public static string? Problem() => Problem(new ToolRunner());

    /// <summary>Null when KVM is usable, else why not; the test guest runs through <paramref name="runner"/>.</summary>
    public static string? Problem(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        if (!File.Exists(DevicePath))
        {
            return $"{DevicePath} does not exist (no hardware virtualisation, or the kvm module is not loaded)";
        }

        try
        {
            using var device = new FileStream(DevicePath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1, FileOptions.None);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return $"{DevicePath} cannot be opened: {exception.Message}";
        }

        return GuestProblem(runner, VmAccelerator.Kvm);
    }

    /// <summary>Runs the test guest under <paramref name="accelerator"/>; null when it printed and exited as it should.</summary>
    public static string? GuestProblem(IToolRunner runner, VmAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(runner);
        var image = Path.Combine(Path.GetTempPath(), $"basalt-kvm-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.img");
        try
        {
            File.WriteAllBytes(image, BootSector());
            var name = accelerator == VmAccelerator.Kvm ? "kvm" : "tcg";
            var invocation = new ToolInvocation("timeout",
            [
                "--kill-after=5", ((int)GuestLimit.TotalSeconds).ToString(CultureInfo.InvariantCulture),
                QemuCommandLine.Binary, "-accel", name, "-m", "16", "-display", "none", "-serial", "stdio", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-drive", $"file={image},format=raw,if=floppy", "-boot", "a",
            ])
            {
                Package = "coreutils",
                SuccessExitCodes = [GuestExitCode],
                Timeout = GuestLimit * 2,
            };
            var result = runner.RunAsync(invocation).GetAwaiter().GetResult();
            return result.StandardOutput.Contains(GuestOutput, StringComparison.Ordinal)
                ? null
                : $"a test guest under -accel {name} exited without writing to its serial port";
        }
        catch (ToolFailedException exception)
        {
            return $"{DevicePath} opens, but a 512-byte test guest under -accel {(accelerator == VmAccelerator.Kvm ? "kvm" : "tcg")} did not run within {GuestLimit.TotalSeconds:0} s ({exception.Message.Split('\n')[0]})";
        }
        catch (ToolNotFoundException exception)
        {
            return exception.Message;
        }
        finally
        {
            File.Delete(image);
        }
    }

    /// <summary>The test guest: a BIOS boot sector (code, zero padding, 0x55 0xAA).</summary>
    public static byte[] BootSector()
    {
        var sector = new byte[512];
        GuestCode.CopyTo(sector, 0);
        sector[510] = 0x55;
        sector[511] = 0xAA;
        return sector;
    }
}
