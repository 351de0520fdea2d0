using System.CommandLine;
using System.Text.Json.Nodes;
using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Agent.Recovery;
using Basalt.Agent.Reset;
using Basalt.Boot.CommandLine;
using Basalt.Boot.Mounting;
using Basalt.Cli.Hosting;
using Basalt.Config.Collection;
using Basalt.Config.Stages;
using Basalt.Config.Yaml;
using Basalt.Disk;
using Basalt.Oci.Store;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt install` (partition and deploy a disk from the running system, a tree or an image) and `basalt reset`
/// (redeploy active and passive from the recovery image). Both print their plan with --dry-run.
/// </summary>
internal sealed class InstallCommands : ICommandGroup
{
    private const string ProcCmdline = "/proc/cmdline";

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return Install(binder);
        yield return Reset(binder);
    }

    private static Command Install(CommandBinder binder)
    {
        var device = new Option<string?>("--device") { Description = "The disk to install to (e.g. /dev/vda), or 'auto' for the largest non-removable disk; default: install.device", HelpName = "DEV" };
        var config = new Option<string?>("--config") { Description = "A cloud-config merged over the collected ones and written to the new node's /oem", HelpName = "FILE" };
        var source = new Option<string?>("--source") { Description = "What to install: dir:PATH, oci:REF, ocifile:TAR, oci-layout:DIR[:TAG]; default: install.source, else the running system", HelpName = "SRC" };
        var force = new Option<bool>("--force") { Description = "Install even onto a disk that holds mounted filesystems (the running system)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and write nothing" };
        var seedBlobs = new Option<bool>("--seed-blobs") { Description = "With an image source: put the image's blobs into the new node's blob store on COS_PERSISTENT, so its first upgrade fetches only the layers the next image adds" };
        var workDir = new Option<string?>("--work-dir") { Description = "Where images are made before the disk is written (default: the temporary directory)", HelpName = "DIR" };
        var ifAuto = new Option<bool>("--if-auto") { Description = "Install only when the merged cloud-config sets install.auto: true, else exit 0 having changed nothing (the live system's auto-install unit)" };
        var command = new Command("install", "Partition a disk and install Basalt on it (GPT, COS_GRUB, COS_OEM, COS_RECOVERY, COS_STATE, COS_PERSISTENT)")
        {
            device, config, source, force, dryRun, workDir, ifAuto, seedBlobs,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var merged = await CollectAsync(context, context.GetValue(config), ct).ConfigureAwait(false);
            if (context.GetValue(ifAuto) && merged.Config.Install?.Auto != true)
            {
                context.Console.Error.WriteLine("install.auto is not true in the cloud-config: nothing to install");
                return ExitCodes.Success;
            }

            var request = new InstallRequest
            {
                Config = merged.Config,
                Device = context.GetValue(device),
                Source = context.GetValue(source),
                Force = context.GetValue(force),
                StageSources = ConfigStages.Sources(merged),
                CloudConfigText = "#cloud-config\n" + YamlWriter.Write(merged.Root),
                WorkDirectory = context.GetValue(workDir) ?? Path.GetTempPath(),
                LiveSquashfsPath = LiveSquashfs(),
                SeedBlobs = context.GetValue(seedBlobs),
            };
            var plan = new InstallPlanner(new DiskInventory(), new RunningSystemProbe()).Plan(request);
            if (context.GetValue(dryRun))
            {
                WritePlan(context, plan.ToString(), plan.ToJson());
                return ExitCodes.Success;
            }

            var services = context.GetServices<CliServices>();
            using var http = new HttpClient();
            var stages = new LifecycleStages(new StageRunner(new ToolRunner(), http), request.StageSources, merged.Config.Strict == true);
            var executor = new InstallExecutor(
                new ToolRunner(),
                stages,
                path => new FileLifecycleHistory(path),
                async (image, target, seedBlobStore, token) =>
                {
                    var unpacked = (await services.Images.UnpackAsync(image, target, CommandInputs.Platform(context.Settings), cancellationToken: token).ConfigureAwait(false)).Pull.Image;
                    if (seedBlobStore is not null)
                    {
                        await services.Images.CopyToStoreAsync(unpacked, new BlobStore(seedBlobStore), token).ConfigureAwait(false);
                    }

                    return new UnpackedImageIdentity(unpacked.Name, unpacked.Digest.Value, unpacked.Config.Created);
                });
            context.Console.Error.WriteLine($"installing {plan.Source.Text} onto {plan.Device}");
            var result = await executor.ExecuteAsync(plan, ct).ConfigureAwait(false);
            WriteResult(context, $"installed {result.Source} onto {result.Device} ({ByteSize.Format(result.DiskBytes)}) in {result.Elapsed.TotalSeconds:0.0} s",
                new JsonObject
                {
                    ["device"] = result.Device,
                    ["diskBytes"] = result.DiskBytes,
                    ["source"] = result.Source,
                    ["after"] = result.After.ToString().ToLowerInvariant(),
                    ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 1),
                });
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Reset(CommandBinder binder)
    {
        var resetPersistent = new Option<bool>("--reset-persistent") { Description = "Format COS_PERSISTENT (/usr/local), losing every persistent file: the default unless reset.reset-persistent is false" };
        var keepPersistent = new Option<bool>("--keep-persistent") { Description = "Keep COS_PERSISTENT (/usr/local) and its files" };
        var resetOem = new Option<bool>("--reset-oem") { Description = "Also format COS_OEM (/oem): the node's cloud-config is lost" };
        var unattended = new Option<bool>("--unattended") { Description = "Do not ask for confirmation (the statereset boot entry runs this)" };
        var reboot = new Option<bool>("--reboot") { Description = "Reboot when done" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and write nothing" };
        var workDir = new Option<string?>("--work-dir") { Description = "Where the work files go (default: the temporary directory)", HelpName = "DIR" };
        var command = new Command("reset", "From recovery: remake the active and passive images from the recovery image and format persistent (unless kept), optionally OEM")
        {
            resetPersistent, keepPersistent, resetOem, unattended, reboot, dryRun, workDir,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var (format, keep) = (context.GetValue(resetPersistent), context.GetValue(keepPersistent));
            if (format && keep)
            {
                throw new CliUsageException("--reset-persistent and --keep-persistent contradict each other", "pass one of them, or neither to follow reset.reset-persistent (default: format)");
            }

            var merged = await CollectAsync(context, null, ct).ConfigureAwait(false);
            // Booted into recovery, COS_RECOVERY is the live medium's mount; elsewhere it is mounted for the reset.
            await using var recovery = await RecoveryPartitionAccess.OpenAsync(new ToolRunner(), NodePaths.Running, writable: false, cancellationToken: ct).ConfigureAwait(false);
            var request = new ResetRequest
            {
                Paths = recovery.Paths,
                Config = merged.Config,
                ResetPersistent = format ? true : keep ? false : null,
                ResetOem = context.GetValue(resetOem),
                Reboot = context.GetValue(reboot),
                StageSources = ConfigStages.Sources(merged),
                WorkDirectory = context.GetValue(workDir) ?? Path.GetTempPath(),
            };
            var plan = ResetPlanner.Plan(request);
            if (context.GetValue(dryRun))
            {
                WritePlan(context, plan.ToString(), plan.ToJson());
                return ExitCodes.Success;
            }

            if (!context.GetValue(unattended))
            {
                context.Console.Error.Write(plan.ToString());
                context.Console.Error.Write("Reset this node? Type 'yes' to go on: ");
                if (!string.Equals(Console.In.ReadLine()?.Trim(), "yes", StringComparison.Ordinal))
                {
                    throw new CliUsageException("reset not confirmed; nothing was changed", "answer 'yes', or pass --unattended");
                }
            }

            using var http = new HttpClient();
            var probe = new RunningSystemProbe();
            var stages = new LifecycleStages(new StageRunner(new ToolRunner(), http), request.StageSources, merged.Config.Strict == true);
            var result = await new ResetExecutor(new ToolRunner(), stages, path => new FileLifecycleHistory(path), probe).ExecuteAsync(plan, ct).ConfigureAwait(false);
            WriteResult(context, $"reset done: new active and passive images ({ByteSize.Format(result.ImageBytes)} each)" +
                                 (result.PersistentFormatted ? ", persistent formatted" : string.Empty) + (result.OemFormatted ? ", oem formatted" : string.Empty),
                new JsonObject
                {
                    ["imageBytes"] = result.ImageBytes,
                    ["persistentFormatted"] = result.PersistentFormatted,
                    ["oemFormatted"] = result.OemFormatted,
                    ["after"] = result.After.ToString().ToLowerInvariant(),
                    ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 1),
                });
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>On a live boot, the squashfs the running root was mounted from (the medium's, or the downloaded one); else null.</summary>
    private static string? LiveSquashfs()
    {
        if (!File.Exists(Path.Combine(BootPlanner.SentinelDirectory, "live_mode")))
        {
            return null;
        }

        return new[] { $"{BootPlanner.LiveMountPoint}/{BootKeys.LiveSquashfs}", BootPlanner.DownloadedSquashfs }.FirstOrDefault(File.Exists);
    }

    /// <summary>The node's merged cloud-config: the scan directories, then --config, then the kernel command line.</summary>
    private static async Task<MergedConfig> CollectAsync(CommandContext context, string? configFile, CancellationToken cancellationToken)
    {
        var inputs = new List<ConfigInput>();
        if (configFile is not null)
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(configFile, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliUsageException($"--config {configFile}: {e.Message}");
            }

            inputs.Add(new ConfigInput(text, configFile));
        }

        var cmdline = File.Exists(ProcCmdline) ? await File.ReadAllTextAsync(ProcCmdline, cancellationToken).ConfigureAwait(false) : null;
        var merged = await new ConfigCollector().CollectAsync(new ConfigCollectorOptions { Inputs = inputs, KernelCommandLine = cmdline }, cancellationToken).ConfigureAwait(false);
        foreach (var issue in merged.Issues)
        {
            context.Console.Error.WriteLine(issue.ToString());
        }

        return merged;
    }

    private static void WritePlan(CommandContext context, string text, string json)
    {
        if (context.Console.IsJson)
        {
            context.Console.Output.WriteLine(json);
        }
        else
        {
            context.Console.Output.Write(text);
        }
    }

    private static void WriteResult(CommandContext context, string text, JsonObject json)
    {
        if (context.Console.IsJson)
        {
            using var buffer = new MemoryStream();
            using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
            {
                json.WriteTo(writer);
            }

            context.Console.Output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
        else
        {
            context.Console.Output.WriteLine(text);
        }
    }
}
