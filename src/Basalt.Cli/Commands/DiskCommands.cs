using System.CommandLine;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Boot.Grub;
using Basalt.Build.Artifacts;
using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Disk;
using Basalt.Disk.Assembly;
using Basalt.Oci.References;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt build disk|raw|qcow2` (an OS image or tree → a bootable raw/qcow2 disk) and `basalt bootentry --disk` (offline
/// choice of the next boot entry in the disk's grubenv).
/// </summary>
internal sealed class DiskCommands : ICommandGroup
{
    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        // `build disk` lives under the one `build` command that BuildCommands owns.
        yield return BootEntry(binder);
    }

    /// <summary>`build disk`, added to the `build` command by <see cref="BuildCommands"/>.</summary>
    internal static Command BuildDisk(CommandBinder binder) =>
        BuildDisk(binder, "disk", "Build a bootable GPT disk (COS_GRUB, COS_OEM, COS_RECOVERY, COS_STATE, COS_PERSISTENT) from an OS image", fixedFormat: null);

    /// <summary>`build raw`: <c>build disk --format raw</c> under the artifact's own name.</summary>
    internal static Command BuildRaw(CommandBinder binder) =>
        BuildDisk(binder, "raw", "Build a bootable raw disk image (the same as build disk --format raw); dd it to a USB stick or boot it with basalt vm", DiskImageFormat.Raw);

    /// <summary>`build qcow2`: <c>build disk --format qcow2</c> under the artifact's own name.</summary>
    internal static Command BuildQcow2(CommandBinder binder) =>
        BuildDisk(binder, "qcow2", "Build a bootable qcow2 disk image (the same as build disk --format qcow2) for QEMU/libvirt/OpenStack", DiskImageFormat.Qcow2);

    private static Command BuildDisk(CommandBinder binder, string name, string description, DiskImageFormat? fixedFormat)
    {
        var image = new Argument<string?>("IMAGE") { Description = "Basalt OS image to build from: " + Oci.References.ImageSource.AcceptedForms, Arity = ArgumentArity.ZeroOrOne };
        var root = new Option<string?>("--root") { Description = "An unpacked Basalt OS tree to build from instead of an image", HelpName = "DIR" };
        var output = new Option<string>("--out", "-o") { Description = "The disk file to write (here -o names the disk; use --output for the output format)", Required = true, HelpName = "FILE" };
        var size = new Option<string?>("--size") { Description = "Disk size (e.g. 8G); default: the smallest that holds the image", HelpName = "SIZE" };
        var format = new Option<string>("--format") { Description = "raw or qcow2", DefaultValueFactory = _ => "raw" };
        format.AcceptOnlyFromAmong("raw", "qcow2");
        var seed = new Option<string>("--seed") { Description = "Every partition and filesystem UUID derives from this", DefaultValueFactory = _ => DiskArtifactOptions.DefaultSeed };
        var cloudConfig = new Option<string?>("--cloud-config") { Description = $"A cloud-config file baked into COS_OEM (/oem/{DiskArtifactPlan.CloudConfigName}); validated first, a bad file writes nothing", HelpName = "FILE" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan (layout, images, sizes) and write nothing" };
        var seedBlobs = new Option<bool>("--seed-blobs") { Description = "Also put IMAGE's blobs into the node's blob store on COS_PERSISTENT, so its first upgrade fetches only the layers a new image adds (costs the image's compressed size on the disk)" };
        var command = new Command(name, description)
        {
            image, root, output, size, seed, cloudConfig, dryRun, seedBlobs,
        };
        if (fixedFormat is null)
        {
            command.Options.Add(format);
        }

        binder.SetHandler(command, async (context, ct) =>
        {
            var imageText = context.GetValue(image);
            var rootText = context.GetValue(root);
            if ((imageText is null) == (rootText is null))
            {
                throw new CliUsageException("give either an IMAGE or --root DIR", "e.g. basalt build disk --root ./rootfs -o disk.raw, or basalt build disk oci-layout:./os:1.0 -o disk.raw");
            }

            var outputPath = Path.GetFullPath(context.GetValue(output)!);
            var options = new DiskArtifactOptions
            {
                RootDirectory = rootText ?? string.Empty,
                OutputPath = outputPath,
                Format = fixedFormat ?? (context.GetValue(format) == "qcow2" ? DiskImageFormat.Qcow2 : DiskImageFormat.Raw),
                SizeBytes = context.GetValue(size) is { } sizeText ? ParseSize(sizeText) : null,
                Seed = context.GetValue(seed) ?? DiskArtifactOptions.DefaultSeed,
                CloudConfigPath = context.GetValue(cloudConfig) is { } config ? Path.GetFullPath(config) : null,
            };

            if (rootText is not null)
            {
                if (context.GetValue(seedBlobs))
                {
                    throw new CliUsageException("--seed-blobs needs an IMAGE: a --root tree has no blobs", "e.g. basalt build raw oci:registry.example/os:v1 -o node.raw --seed-blobs");
                }

                var tree = Path.GetFullPath(rootText);
                var named = InstallSlots.Describe(InstallSource.Parse(ImageSource.DirectoryPrefix + tree), tree, DateTimeOffset.UtcNow);
                return await BuildAsync(context, options with { RootDirectory = tree }, named, context.GetValue(dryRun), ct).ConfigureAwait(false);
            }

            return await UnpackedImage.BuildFromAsync(
                context,
                imageText!,
                outputPath,
                async (unpacked, result) =>
                {
                    var slots = UnpackedImage.Slots(result);
                    if (!context.GetValue(seedBlobs))
                    {
                        return await BuildAsync(context, options with { RootDirectory = unpacked }, slots, context.GetValue(dryRun), ct).ConfigureAwait(false);
                    }

                    var persistent = Path.Combine(Path.GetDirectoryName(outputPath) ?? "/", $".{Path.GetFileName(outputPath)}.persistent-{Environment.ProcessId}-{Guid.NewGuid():N}");
                    try
                    {
                        var nodeStore = new Oci.Store.BlobStore(new NodePaths { PersistentMount = persistent }.BlobStore);
                        await context.GetServices<CliServices>().Images.CopyToStoreAsync(result.Pull.Image, nodeStore, ct).ConfigureAwait(false);
                        return await BuildAsync(context, options with { RootDirectory = unpacked, PersistentContentDirectory = persistent }, slots, context.GetValue(dryRun), ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        await new ToolRunner().RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", persistent]) { Package = "coreutils" }, CancellationToken.None).ConfigureAwait(false);
                    }
                },
                ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>
    /// Builds the disk with <paramref name="slots"/> as its slots file on COS_STATE, as an install writes it: the node's
    /// <c>basalt state</c> then names the image each slot holds, and with a digest an upgrade to that same image is a no-op.
    /// </summary>
    private static Task<int> BuildAsync(CommandContext context, DiskArtifactOptions options, SlotTable slots, bool dryRun, CancellationToken cancellationToken) =>
        UnpackedImage.WithSlotsFileAsync(
            options.OutputPath,
            slots,
            slotsFile => BuildAsync(context, options with { StateFiles = [.. options.StateFiles, new DiskContentFile(slotsFile, InstallSlots.StateTarget)] }, dryRun, cancellationToken),
            cancellationToken);

    private static async Task<int> BuildAsync(CommandContext context, DiskArtifactOptions options, bool dryRun, CancellationToken cancellationToken)
    {
        var plan = DiskArtifactPlanner.Plan(options);
        if (dryRun)
        {
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(DiskArtifactSummary.FromPlan(plan), ArtifactJsonContext.Default.DiskArtifactSummary);
            }
            else
            {
                context.Console.Output.Write(plan.ToString());
            }

            return ExitCodes.Success;
        }

        DiskArtifactResult result;
        using (var reporter = TransferReporter.For(context.Console))
        {
            result = await new DiskArtifactBuilder(new ToolRunner(), progress: reporter).BuildAsync(plan, cancellationToken).ConfigureAwait(false);
        }

        if (context.Console.IsJson)
        {
            context.Console.WriteJson(DiskArtifactSummary.FromResult(result), ArtifactJsonContext.Default.DiskArtifactSummary);
        }
        else
        {
            context.Console.WriteText($"wrote {result.OutputPath} ({result.Format.ToString().ToLowerInvariant()}, {ByteSize.Format(result.DiskBytes)}, {ByteSize.Format(result.AllocatedBytes)} allocated) in {result.Elapsed.TotalSeconds:0.0} s");
        }

        return ExitCodes.Success;
    }

    internal static Command BootEntry(CommandBinder binder)
    {
        var disk = new Option<string?>("--disk") { Description = "A raw Basalt disk image (not in use by a VM); without it, this node's grubenv", HelpName = "FILE" };
        var select = new Option<string?>("--select") { Description = "The entry the next boot uses, once: " + string.Join(", ", BootEntrySelector.Entries) + "; without it, list the entries", HelpName = "ENTRY" };
        select.AcceptOnlyFromAmong([.. BootEntrySelector.Entries]);
        var nodeRoot = StateCommands.NodeRootOption();
        var command = new Command("bootentry", "Choose the entry of the next boot, once (next_entry in the grubenv on COS_OEM): this node's, or a disk's offline") { disk, select, nodeRoot };
        binder.SetHandler(command, async (context, ct) =>
        {
            if (context.GetValue(disk) is not { } diskPath)
            {
                return StateCommands.RunningBootEntry(context, StateCommands.Paths(context, nodeRoot), context.GetValue(select));
            }

            var path = Path.GetFullPath(diskPath);
            var selector = new BootEntrySelector(new ToolRunner());
            var environment = context.GetValue(select) is { } entry
                ? await selector.SelectNextAsync(path, entry, ct).ConfigureAwait(false)
                : await selector.ReadAsync(path, ct).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                var variables = environment.Variables.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
                context.Console.WriteJson(new BootEntrySummary(path, environment.Get(GrubEnvironmentKeys.NextEntry), variables), ArtifactJsonContext.Default.BootEntrySummary);
            }
            else
            {
                context.Console.WriteText(environment.Get(GrubEnvironmentKeys.NextEntry) is { Length: > 0 } next
                    ? $"{path}: the next boot uses '{next}'"
                    : $"{path}: no one-shot entry; the next boot uses the default");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static long ParseSize(string text)
    {
        try
        {
            return ByteSize.Parse(text);
        }
        catch (FormatException exception)
        {
            throw new CliUsageException(exception.Message, "use e.g. --size 8G or --size 4096M");
        }
    }
}
