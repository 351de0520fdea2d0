using System.CommandLine;
using System.Globalization;
using Basalt.Build.Vm;
using Basalt.Cli.Hosting;
using Basalt.Disk;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>`basalt vm`: boots a disk, an ISO or a netboot directory in QEMU with the serial console on this terminal.</summary>
internal sealed class VmCommands : ICommandGroup
{
    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return Vm(binder);
    }

    private static Command Vm(CommandBinder binder)
    {
        var artifact = new Argument<string>("ARTIFACT")
        {
            Description = "A raw or qcow2 disk, an ISO (booted as a cdrom beside a blank target disk) or a netboot directory "
                + $"({NetbootDirectory.KernelName}, {NetbootDirectory.InitrdName}, optional {NetbootDirectory.CommandLineName}; also beside a blank target disk; "
                + "one from basalt build netboot is served to the VM from 127.0.0.1 while it runs)",
        };
        var disk = new Option<string?>("--disk") { Description = $"Size of the blank target disk of an ISO or netboot (default {ByteSize.Format(VmLaunchOptions.DefaultTargetDiskBytes)}, sparse)", HelpName = "SIZE" };
        var memory = new Option<int>("--memory") { Description = "Guest memory in MiB", DefaultValueFactory = _ => 2048, HelpName = "MIB" };
        var cpus = new Option<int>("--cpus") { Description = "Guest CPUs", DefaultValueFactory = _ => 2, HelpName = "N" };
        var ports = new Option<string[]>("--port-forward")
        {
            Description = "Forward host 127.0.0.1:H to guest port G (TCP); repeatable, e.g. --port-forward 2222:22",
            HelpName = "H:G",
            AllowMultipleArgumentsPerToken = false,
        };
        var cloudConfig = new Option<string?>("--cloud-config")
        {
            Description = $"A cloud-config the booted raw disk reads from /oem/{VmLaunchOptions.CloudConfigName} (written on the overlay, validated first), "
                + "or that a netboot directory from basalt build netboot serves to the VM (config_url=)",
            HelpName = "FILE",
        };
        var accel = new Option<string>("--accel") { Description = "tcg, kvm, or auto (KVM when /dev/kvm opens, else TCG)", DefaultValueFactory = _ => "auto" };
        accel.AcceptOnlyFromAmong("tcg", "kvm", "auto");
        var workDir = new Option<string?>("--work-dir") { Description = "Where the overlay, target disk and firmware variables live while the VM runs (default: a fresh directory under /var/tmp, removed at exit)", HelpName = "DIR" };
        var firmwareCode = new Option<string?>("--firmware-code") { Description = "OVMF code image", HelpName = "FILE", Hidden = true };
        var firmwareVars = new Option<string?>("--firmware-vars") { Description = "OVMF variables template", HelpName = "FILE", Hidden = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be made and the QEMU command line; start nothing" };
        var command = new Command(
            "vm",
            "Boot an artifact in QEMU (OVMF, serial console on this terminal; Ctrl-C stops the VM). The artifact is never written: "
            + "a disk boots on a copy-on-write qcow2 overlay in the work directory, discarded when the VM stops")
        {
            artifact, disk, memory, cpus, ports, cloudConfig, accel, workDir, firmwareCode, firmwareVars, dryRun,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var options = new VmLaunchOptions
            {
                ArtifactPath = Path.GetFullPath(context.GetRequiredValue(artifact)),
                WorkDirectory = Path.GetFullPath(context.GetValue(workDir) ?? DefaultWorkDirectory()),
                TargetDiskBytes = context.GetValue(disk) is { } size ? ParseSize(size) : null,
                MemoryMiB = Positive(context.GetValue(memory), "--memory", 128),
                Cpus = Positive(context.GetValue(cpus), "--cpus", 1),
                PortForwards = ParsePortForwards(context.GetValue(ports) ?? []),
                CloudConfigPath = context.GetValue(cloudConfig) is { } config ? Path.GetFullPath(config) : null,
                Accelerator = ParseAccelerator(context.GetValue(accel)),
            };
            if (context.GetValue(firmwareCode) is { } code)
            {
                options = options with { OvmfCodePath = Path.GetFullPath(code) };
            }

            if (context.GetValue(firmwareVars) is { } vars)
            {
                options = options with { OvmfVarsTemplatePath = Path.GetFullPath(vars) };
            }

            var plan = VmLaunchPlanner.Plan(options, KvmProbe.Problem);
            if (context.GetValue(dryRun))
            {
                context.Console.Output.Write(plan.ToString());
                return ExitCodes.Success;
            }

            var launcher = new VmLauncher(new ToolRunner());
            launcher.Preflight(plan);
            await context.Console.Error.WriteLineAsync(
                $"basalt vm: booting {plan.Artifact.Path} ({plan.Artifact.KindName}, {plan.Accelerator.ToString().ToLowerInvariant()}); "
                + $"work files in {plan.Options.WorkDirectory}; Ctrl-C stops the VM").ConfigureAwait(false);
            var exit = await launcher.RunAsync(plan, ct).ConfigureAwait(false);
            if (exit != 0)
            {
                throw new VmFailedException(exit);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static string DefaultWorkDirectory() =>
        Path.Combine("/var/tmp", string.Create(CultureInfo.InvariantCulture, $"basalt-vm-{Environment.ProcessId}-{Guid.NewGuid():N}"));

    /// <summary>Parses <c>H:G</c> pairs; each port 1..65535.</summary>
    internal static IReadOnlyList<PortForward> ParsePortForwards(IEnumerable<string> values)
    {
        var forwards = new List<PortForward>();
        foreach (var value in values)
        {
            var parts = value.Split(':');
            if (parts.Length != 2 || !TryPort(parts[0], out var host) || !TryPort(parts[1], out var guest))
            {
                throw new CliUsageException($"'{value}' is not a port forward", "use --port-forward HOST:GUEST with ports 1-65535, e.g. --port-forward 2222:22");
            }

            if (forwards.Any(forward => forward.HostPort == host))
            {
                throw new CliUsageException($"host port {host} is forwarded twice", "give each --port-forward its own host port");
            }

            forwards.Add(new PortForward(host, guest));
        }

        return forwards;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;

    private static VmAccelerator ParseAccelerator(string? text) => text switch
    {
        "tcg" => VmAccelerator.Tcg,
        "kvm" => VmAccelerator.Kvm,
        _ => VmAccelerator.Auto,
    };

    private static int Positive(int value, string option, int minimum) =>
        value >= minimum ? value : throw new CliUsageException($"{option} {value} is too small", $"give {option} at least {minimum}");

    private static long ParseSize(string text)
    {
        try
        {
            return ByteSize.Parse(text);
        }
        catch (FormatException exception)
        {
            throw new CliUsageException(exception.Message, "use e.g. --disk 16G or --disk 8192M");
        }
    }
}
