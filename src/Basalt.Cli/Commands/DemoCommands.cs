using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using Basalt.Build.Demo;
using Basalt.Cli.Demo;
using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Disk;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>`basalt demo`: the whole story on this machine, every step real, with a summary and an honest exit status.</summary>
internal sealed class DemoCommands : ICommandGroup
{
    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return Demo(binder);
    }

    private static Command Demo(CommandBinder binder)
    {
        var workDir = new Option<string?>("--work-dir") { Description = "Where the disk, the VM's files and the registry's storage live while the demo runs; removed at the end (default: a fresh directory under /var/tmp)", HelpName = "DIR" };
        var osTree = new Option<string?>("--os-tree") { Description = "Use this Basalt OS tree (made by basalt init --root) as image v1, as is; skips the base and init phases. Give its root password with --root-password", HelpName = "DIR" };
        var quick = new Option<bool>("--quick")
        {
            Description = "What CI can afford: needs --os-tree; skips installing packages (fails naming the missing ones), building the base and init, "
                + "and keeps nothing in the cache. Still pushes v1 and v2, builds the disk, boots it, upgrades from the registry and reboots into v2",
        };
        var yes = new Option<bool>("--yes", "-y") { Description = "Install missing apt packages without asking (the default when stdin is not a terminal)" };
        var password = new Option<string?>("--root-password") { Description = $"root's password on the serial console: set on the demo's own tree, the one --os-tree already has otherwise (default: {DemoOptions.DefaultRootPassword})", HelpName = "PASSWORD" };
        var port = new Option<int?>("--registry-port") { Description = "Port of the local registry on 127.0.0.1 (default: a free one)", HelpName = "PORT" };
        var disk = new Option<string?>("--disk") { Description = $"Size of the node's disk (default {ByteSize.Format(DemoOptions.DefaultDiskBytes)}, sparse)", HelpName = "SIZE" };
        var memory = new Option<int>("--memory") { Description = "Guest memory in MiB", DefaultValueFactory = _ => 2048, HelpName = "MIB" };
        var mirror = new Option<string?>("--mirror") { Description = "Debian mirror for the default base (default: the one this machine's apt uses)", HelpName = "URL" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and start nothing" };
        var command = new Command(
            "demo",
            "Show the whole story on this machine: install missing packages, build (or reuse) the default base and a Basalt OS tree, push image v1 "
            + "and v2 (v1 + a marker layer) to a local registry, build a disk from v1, boot it in QEMU, show basalt state, upgrade to v2 from the "
            + "registry, reboot into v2, show the state again and power off. Stops everything it started; exits 0 only if every step worked. "
            + "The base and the OS tree are cached under --cache-dir (default /var/cache/basalt), so a second run is much faster")
        {
            workDir, osTree, quick, yes, password, port, disk, memory, mirror, dryRun,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var cache = context.Settings.CacheDir is { } given ? Path.GetFullPath(given) : BlobStore.DefaultRoot();
            var options = new DemoOptions
            {
                WorkDirectory = Path.GetFullPath(context.GetValue(workDir) ?? DefaultWorkDirectory()),
                CacheDirectory = cache,
                OsTree = context.GetValue(osTree) is { } tree ? Path.GetFullPath(tree) : null,
                Quick = context.GetValue(quick),
                AssumeYes = context.GetValue(yes),
                RootPassword = context.GetValue(password) ?? DemoOptions.DefaultRootPassword,
                RegistryPort = context.GetValue(port),
                DiskBytes = context.GetValue(disk) is { } size ? ParseSize(size) : DemoOptions.DefaultDiskBytes,
                MemoryMiB = context.GetValue(memory) is var mib and >= 512 ? mib : throw new CliUsageException($"--memory {context.GetValue(memory)} is too small", "give the guest at least 512 MiB"),
                Mirror = context.GetValue(mirror) is { } url ? ParseMirror(url) : null,
            };

            var tools = new ToolRunner();
            var requirements = DemoRequirements.For(ownOsTree: options.OsTree is null);
            var host = new DemoHost(
                Posix.IsRoot,
                !Console.IsInputRedirected,
                DemoRequirements.Missing(requirements, tool => tools.Locate(tool) is not null, path => File.Exists(path) || Directory.Exists(path)));
            var plan = DemoPlanner.Plan(options, host, DemoOsTree.IsOsTree, LocalRegistry.IsFree);
            if (context.GetValue(dryRun))
            {
                context.Console.Output.Write(plan.Describe());
                return ExitCodes.Success;
            }

            var binary = Environment.ProcessPath ?? throw new CliUsageException("cannot tell which file this basalt runs from", "run the published basalt binary");
            await using var runner = new DemoRunner(plan, tools, context.Console, binary);
            await context.Console.Error.WriteLineAsync($"basalt demo: {plan.Phases.Count(p => !p.Skipped)} phases; work files in {options.WorkDirectory}; cache in {options.CacheDirectory}; Ctrl-C stops everything").ConfigureAwait(false);
            var report = await runner.RunAsync(ct).ConfigureAwait(false);
            Summarize(context.Console, report);
            return report.Cancelled ? ExitCodes.Cancelled : report.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    /// <summary>The closing table: every phase with its time and status, what the upgrade fetched, the verdict.</summary>
    internal static void Summarize(CliConsole console, DemoReport report)
    {
        if (console.IsJson)
        {
            console.WriteJson(
                new DemoOutput(
                    report.Succeeded,
                    report.Elapsed.TotalSeconds,
                    report.Phases.Select(p => new DemoPhaseOutput(p.Step.ToString(), p.Title, Status(p.Status), p.Elapsed.TotalSeconds, p.Detail)).ToList(),
                    report.UpgradeBytesFetched,
                    report.ImageBytes,
                    report.Error,
                    report.Hint),
                DemoJsonContext.Default.DemoOutput);
            return;
        }

        var output = console.Output;
        output.WriteLine();
        output.WriteLine("basalt demo summary");
        foreach (var phase in report.Phases)
        {
            var time = phase.Status is DemoPhaseStatus.Ok or DemoPhaseStatus.Failed ? DemoRunner.Elapsed(phase.Elapsed) : string.Empty;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Status(phase.Status),-8} {time,9}  {phase.Title}"));
        }

        if (report.UpgradeBytesFetched is { } fetched && report.ImageBytes is { } image && image > 0)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"upgrade fetched {Units.Bytes(fetched)} of the {Units.Bytes(image)} image v2 ({Units.Share(fetched, image)}): only the new layer crossed the wire"));
        }

        if (report.Succeeded)
        {
            output.WriteLine($"basalt demo: OK in {DemoRunner.Elapsed(report.Elapsed)}");
            return;
        }

        output.WriteLine($"basalt demo: {(report.Cancelled ? "CANCELLED" : "FAILED")} after {DemoRunner.Elapsed(report.Elapsed)}: {report.Error}");
        if (report.Hint is { } hint)
        {
            output.WriteLine($"hint: {hint}");
        }
    }

    private static string Status(DemoPhaseStatus status) => status switch
    {
        DemoPhaseStatus.Ok => "OK",
        DemoPhaseStatus.Failed => "FAILED",
        DemoPhaseStatus.Skipped => "skipped",
        _ => "not run",
    };

    private static string DefaultWorkDirectory() =>
        Path.Combine("/var/tmp", string.Create(CultureInfo.InvariantCulture, $"basalt-demo-{Environment.ProcessId}-{Guid.NewGuid():N}"));

    private static long ParseSize(string text)
    {
        try
        {
            return ByteSize.Parse(text);
        }
        catch (FormatException exception)
        {
            throw new CliUsageException(exception.Message, "use e.g. --disk 10G");
        }
    }

    private static Uri ParseMirror(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) ? uri : throw new CliUsageException($"'{text}' is not a URL", "pass --mirror http://deb.debian.org/debian");
}

internal sealed record DemoPhaseOutput(string Step, string Title, string Status, double Seconds, string? Detail);

internal sealed record DemoOutput(bool Succeeded, double Seconds, IReadOnlyList<DemoPhaseOutput> Phases, long? UpgradeBytesFetched, long? ImageBytes, string? Error, string? Hint);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(DemoOutput))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;
