using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Agent.Recovery;
using Basalt.Agent.Rollback;
using Basalt.Agent.Slots;
using Basalt.Agent.Upgrade;
using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Config.Collection;
using Basalt.Config.Stages;
using Basalt.Disk;
using Basalt.Oci.Images;
using Basalt.Oci.Manifests;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt upgrade` and `basalt rollback` on a running node: the A/B swap of COS_STATE's images under the step
/// journal. Both first finish or undo anything an earlier run left interrupted. Layers are kept in the node's blob
/// store on COS_PERSISTENT (not the CLI's cache), so an image already on the node is never fetched again.
/// </summary>
internal sealed class UpgradeCommands : ICommandGroup
{
    private const string ProcCmdline = "/proc/cmdline";

    private static readonly UpgradeJsonContext Json = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
    });

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return Upgrade(binder);
        yield return Rollback(binder);
        yield return Recover(binder);
    }

    private static Command Upgrade(CommandBinder binder)
    {
        var source = new Option<string?>("--source")
        {
            Description = "Image to upgrade to: " + ImageSource.AcceptedForms + " (default: upgrade.source from the cloud-config)",
            HelpName = "SRC",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the preflight plan and its checks; change nothing" };
        var tries = new Option<int?>("--boot-tries") { Description = "Boots the new image gets before the node falls back (default: upgrade.boot_tries, else 3)", HelpName = "N" };
        var recovery = new Option<bool>("--recovery") { Description = "Upgrade the recovery image (COS_RECOVERY) instead of the active system" };
        var nodeRoot = StateCommands.NodeRootOption();
        var command = new Command("upgrade", "Upgrade the active system (A/B): the new image becomes active, the current one passive, boot counting armed")
        {
            source, dryRun, tries, recovery, nodeRoot,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var merged = await ReadConfigAsync(ct).ConfigureAwait(false);
            var settings = UpgradeSettings.From(merged.Get);
            var sourceText = context.GetValue(source) ?? settings.Source ?? throw new UpgradeSourceMissingException();
            var request = new UpgradeRequest(sourceText, context.GetValue(tries) ?? settings.BootTries) { Platform = CommandInputs.Platform(context.Settings) };
            var paths = StateCommands.Paths(context, nodeRoot);
            var runner = new ToolRunner();
            var hooks = FaultInjection(context);
            using var registry = new RegistryClient(new RegistryOptions { InsecureRegistries = InsecureRegistries(context.Settings, settings, sourceText) });
            if (context.GetValue(recovery))
            {
                return await UpgradeRecoveryAsync(context, paths, runner, new ImageService(new BlobStore(paths.BlobStore), registry), sourceText, request.Platform, context.GetValue(dryRun), ct).ConfigureAwait(false);
            }

            using var http = new HttpClient();
            var service = new UpgradeService(
                paths,
                new ImageService(new BlobStore(paths.BlobStore), registry),
                runner,
                new SlotStoreRecords(new SlotStore(paths.SlotsFile)),
                new FileLifecycleHistory(paths.History),
                hooks: hooks,
                stages: new LifecycleStages(new StageRunner(runner, http), ConfigStages.Sources(merged), merged.Config.Strict == true));

            if (context.GetValue(dryRun))
            {
                var plan = await service.PlanAsync(request, ct).ConfigureAwait(false);
                WritePlan(context, plan);
                plan.EnsureAllowed();
                return ExitCodes.Success;
            }

            UpgradeResult result;
            await using (await StateMountAccess.OpenAsync(runner, paths.StateMount, cancellationToken: ct).ConfigureAwait(false))
            {
                using var reporter = TransferReporter.For(context.Console);
                result = await service.UpgradeAsync(request, reporter, ct).ConfigureAwait(false);
            }

            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new UpgradeOutput(result.Changed ? "upgraded" : "no-op", Recovered(result.Recovery), result.Plan, result.BytesTransferred, result.BlobsTransferred, result.BlobsSkipped, result.Elapsed.TotalSeconds)
                    {
                        LayersReused = result.LayersReused,
                        BlobsRemoved = result.BlobsRemoved,
                        BlobBytesFreed = result.BlobBytesFreed,
                        Phases = [.. result.Phases.Select(p => new PhaseOutput(p.Phase, Math.Round(p.Elapsed.TotalSeconds, 3)))],
                    },
                    Json.UpgradeOutput);
                return ExitCodes.Success;
            }

            WriteRecovery(context, result.Recovery);
            if (!result.Changed)
            {
                context.Console.WriteText(result.Plan.Summary + "; nothing was changed");
                return ExitCodes.Success;
            }

            context.Console.WriteText($"upgraded to {result.Plan.ImageName} ({result.Plan.Digest})");
            context.Console.WriteText(
                $"fetched {Units.Bytes(result.BytesTransferred)} ({result.BlobsTransferred} blobs, {result.BlobsSkipped} already on the node); " +
                $"the previous image is now passive; the new one gets {request.BootTries} boot tries; reboot to start it");
            if (result.BlobsRemoved > 0)
            {
                context.Console.WriteText(BlobsRemovedLine(result.BlobsRemoved, result.BlobBytesFreed));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<int> UpgradeRecoveryAsync(CommandContext context, NodePaths paths, ToolRunner runner, ImageService images, string source, PlatformSpec? platform, bool dryRun, CancellationToken cancellationToken)
    {
        var slots = new SlotStore(paths.SlotsFile);
        var history = new FileLifecycleHistory(paths.History);
        if (dryRun)
        {
            var plan = await new RecoveryUpgradeService(paths, images, runner, slots, history).PlanAsync(source, platform, cancellationToken).ConfigureAwait(false);
            WriteResult(context, plan.Summary, new RecoveryUpgradeOutput("planned", plan, 0, 0, 0));
            return ExitCodes.Success;
        }

        RecoveryUpgradeResult result;
        await using (var partition = await RecoveryPartitionAccess.OpenAsync(runner, paths, writable: true, cancellationToken: cancellationToken).ConfigureAwait(false))
        await using (await StateMountAccess.OpenAsync(runner, paths.StateMount, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            using var reporter = TransferReporter.For(context.Console);
            var service = new RecoveryUpgradeService(partition.Paths, images, runner, slots, history);
            result = await service.UpgradeAsync(source, platform, reporter, cancellationToken).ConfigureAwait(false);
        }

        var text = result.Changed
            ? $"recovery upgraded to {result.Plan.ImageName} ({result.Plan.Digest}): {Units.Bytes(result.ImageBytes)} squashfs, fetched {Units.Bytes(result.BytesTransferred)}"
            : result.Plan.Summary + "; nothing was changed";
        if (result.BlobsRemoved > 0)
        {
            text += Environment.NewLine + BlobsRemovedLine(result.BlobsRemoved, result.BlobBytesFreed);
        }

        WriteResult(context, text, new RecoveryUpgradeOutput(result.Changed ? "upgraded" : "no-op", result.Plan, result.BytesTransferred, result.ImageBytes, result.Elapsed.TotalSeconds)
        {
            BlobsRemoved = result.BlobsRemoved,
            BlobBytesFreed = result.BlobBytesFreed,
        });
        return ExitCodes.Success;
    }

    private static string BlobsRemovedLine(int blobs, long bytes) =>
        $"removed {blobs} blobs ({Units.Bytes(bytes)}) of images no slot holds any more from the node's blob store";

    private static void WriteResult(CommandContext context, string text, RecoveryUpgradeOutput output)
    {
        if (context.Console.IsJson)
        {
            context.Console.WriteJson(output, Json.RecoveryUpgradeOutput);
            return;
        }

        context.Console.WriteText(text);
    }

    private static Command Rollback(CommandBinder binder)
    {
        var command = new Command("rollback", "Make the passive system active for good (a real swap; boot counters cleared)");
        binder.SetHandler(command, async (context, ct) =>
        {
            var paths = NodePaths.Running;
            var runner = new ToolRunner();
            var service = new RollbackService(paths, runner, new SlotStoreRecords(new SlotStore(paths.SlotsFile)), new FileLifecycleHistory(paths.History));
            RollbackResult result;
            await using (await StateMountAccess.OpenAsync(runner, paths.StateMount, cancellationToken: ct).ConfigureAwait(false))
            {
                result = await service.RollbackAsync(ct).ConfigureAwait(false);
            }

            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new RollbackOutput(Recovered(result.Recovery), result.Active?.ImageReference, result.Active?.Digest, result.Passive?.ImageReference, result.Passive?.Digest, result.Elapsed.TotalSeconds),
                    Json.RollbackOutput);
                return ExitCodes.Success;
            }

            WriteRecovery(context, result.Recovery);
            context.Console.WriteText($"rolled back: active is now {result.Active?.ImageReference ?? "the former passive image"}; passive is {result.Passive?.ImageReference ?? "the former active image"}; reboot to start it");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Recover(CommandBinder binder)
    {
        var boot = new Option<bool>("--boot")
        {
            Description = "Early-boot mode (the basalt-recover unit): an operation interrupted before its images were exchanged is rolled back, so the running system stays active",
        };
        var nodeRoot = StateCommands.NodeRootOption();
        var command = new Command("recover", "Finish or undo an upgrade or rollback that a power cut or crash interrupted (upgrade and rollback do this first on their own)")
        {
            boot, nodeRoot,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var paths = StateCommands.Paths(context, nodeRoot);
            var runner = new ToolRunner();
            var executor = new SwapExecutor(paths, new SlotImageFiles(runner), new SlotStoreRecords(new SlotStore(paths.SlotsFile)), new FileLifecycleHistory(paths.History));
            var result = new RecoveryResult(RecoveryOutcome.Nothing, null, null);
            if (executor.Journal.Exists)
            {
                await using (await StateMountAccess.OpenAsync(runner, paths.StateMount, cancellationToken: ct).ConfigureAwait(false))
                {
                    result = await executor.RecoverAsync(context.GetValue(boot) ? RecoveryMode.Boot : RecoveryMode.Command, ct).ConfigureAwait(false);
                }
            }

            var text = Recovered(result);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new RecoverOutput(result.Outcome.ToString().ToLowerInvariant(), result.Operation, result.InterruptedAt?.ToString(), text),
                    Json.RecoverOutput);
                return ExitCodes.Success;
            }

            context.Console.WriteText(text ?? "nothing to recover: no upgrade or rollback was interrupted");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// Fault injection for power-cut tests (<see cref="PowerCutSetting.EnvironmentVariable"/>): hooks that hard-reset the
    /// machine at the named point, with no sync. None when the variable is unset; a bad value fails before anything is done.
    /// </summary>
    private static SwapHooks? FaultInjection(CommandContext context)
    {
        if (PowerCutSetting.FromEnvironment(Environment.GetEnvironmentVariable) is not { } point)
        {
            return null;
        }

        var error = context.Console.Error;
        error.WriteLine($"fault injection: the machine will be hard-reset at {point.Text} ({PowerCutSetting.EnvironmentVariable})");
        error.Flush();
        return PowerCutHooks.For(point, at =>
        {
            error.WriteLine($"fault injection: hard reset now, at {at.Text}");
            error.Flush();
            new MachineReset().HardResetNow();
        });
    }

    private static void WritePlan(CommandContext context, UpgradePlan plan)
    {
        if (context.Console.IsJson)
        {
            context.Console.WriteJson(plan, Json.UpgradePlan);
            return;
        }

        var output = context.Console.Output;
        output.WriteLine(plan.Summary);
        output.WriteLine($"source:  {plan.Source}");
        output.WriteLine($"active:  {plan.ActiveDigest ?? "(digest not recorded)"}");
        foreach (var layer in plan.Layers)
        {
            output.WriteLine($"layer:   {layer.Digest}  {Units.Bytes(layer.Size),10}  {(layer.Present ? "on the node" : "to fetch")}");
        }

        foreach (var check in plan.Checks)
        {
            output.WriteLine($"check:   {check.Name,-16} {(check.Satisfied ? "ok" : "REFUSED")}  needs {ByteSize.Format(check.NeededBytes)}, has {ByteSize.Format(check.AvailableBytes)} ({check.Path})");
        }

        if (!plan.NoOp)
        {
            output.WriteLine("check:   state-space      measured after the image is unpacked to COS_PERSISTENT, before COS_STATE is written");
            output.WriteLine($"steps:   {string.Join(", ", plan.Steps)}");
        }
    }

    private static void WriteRecovery(CommandContext context, RecoveryResult recovery)
    {
        if (Recovered(recovery) is { } text)
        {
            context.Console.Error.WriteLine(text);
        }
    }

    private static string? Recovered(RecoveryResult recovery) => recovery.Outcome switch
    {
        RecoveryOutcome.Completed => $"an interrupted {recovery.Operation} (at step {recovery.InterruptedAt}) was completed first",
        RecoveryOutcome.RolledBack => $"an interrupted {recovery.Operation} (at step {recovery.InterruptedAt}) was rolled back first",
        _ => null,
    };

    private static HashSet<string> InsecureRegistries(GlobalSettings global, UpgradeSettings settings, string source)
    {
        var hosts = new HashSet<string>(global.InsecureRegistries, StringComparer.OrdinalIgnoreCase);
        hosts.UnionWith(settings.InsecureRegistries);
        if (settings.AllowSourceRegistryInsecure && ImageSource.TryParse(source, out var parsed) && parsed is RegistrySource registry)
        {
            hosts.Add(registry.Reference.Registry);
        }

        return hosts;
    }

    /// <summary>The node's merged cloud-config (scan directories and kernel command line), as the other lifecycle commands read it.</summary>
    private static async Task<MergedConfig> ReadConfigAsync(CancellationToken cancellationToken)
    {
        var options = new ConfigCollectorOptions
        {
            KernelCommandLine = File.Exists(ProcCmdline) ? (await File.ReadAllTextAsync(ProcCmdline, cancellationToken).ConfigureAwait(false)).Trim() : null,
        };
        return await new ConfigCollector().CollectAsync(options, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The JSON document of `basalt upgrade`.</summary>
public sealed record UpgradeOutput(string Outcome, string? Recovered, UpgradePlan Plan, long BytesTransferred, int BlobsTransferred, int BlobsSkipped, double Seconds)
{
    /// <summary>Layers taken from the tree kept by the last upgrade instead of unpacked.</summary>
    public int LayersReused { get; init; }

    /// <summary>Blobs of images no slot holds any more, removed from the node's blob store after the upgrade.</summary>
    public int BlobsRemoved { get; init; }

    /// <summary>The space those blobs took on COS_PERSISTENT.</summary>
    public long BlobBytesFreed { get; init; }

    /// <summary>Where the time went, phase by phase.</summary>
    public IReadOnlyList<PhaseOutput> Phases { get; init; } = [];
}

/// <summary>One phase of an upgrade and its wall time in seconds.</summary>
public sealed record PhaseOutput(string Phase, double Seconds);

/// <summary>The JSON document of `basalt upgrade --recovery`.</summary>
public sealed record RecoveryUpgradeOutput(string Outcome, RecoveryUpgradePlan Plan, long BytesTransferred, long ImageBytes, double Seconds)
{
    public int BlobsRemoved { get; init; }

    public long BlobBytesFreed { get; init; }
}

/// <summary>The JSON document of `basalt recover`.</summary>
public sealed record RecoverOutput(string Outcome, string? Operation, string? InterruptedAt, string? Message);

/// <summary>The JSON document of `basalt rollback`.</summary>
public sealed record RollbackOutput(string? Recovered, string? ActiveImage, string? ActiveDigest, string? PassiveImage, string? PassiveDigest, double Seconds);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(UpgradePlan))]
[JsonSerializable(typeof(UpgradeOutput))]
[JsonSerializable(typeof(RollbackOutput))]
[JsonSerializable(typeof(RecoveryUpgradeOutput))]
[JsonSerializable(typeof(RecoverOutput))]
internal sealed partial class UpgradeJsonContext : JsonSerializerContext;
