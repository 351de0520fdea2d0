using System.CommandLine;
using Basalt.Build.Artifacts;
using Basalt.Cli.Hosting;
using Basalt.Disk;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>`basalt build iso`: an OS image or tree → a hybrid live ISO (COS_LIVE) that can install itself.</summary>
internal static class IsoCommands
{
    /// <summary>`build iso`, added to the `build` command by <see cref="BuildCommands"/>.</summary>
    internal static Command BuildIso(CommandBinder binder)
    {
        var image = new Argument<string?>("IMAGE") { Description = "Basalt OS image to build from: " + Oci.References.ImageSource.AcceptedForms, Arity = ArgumentArity.ZeroOrOne };
        var root = new Option<string?>("--root") { Description = "An unpacked Basalt OS tree to build from instead of an image", HelpName = "DIR" };
        var output = new Option<string>("--out", "-o") { Description = "The ISO file to write (here -o names the ISO; use --output for the output format)", Required = true, HelpName = "FILE" };
        var cloudConfig = new Option<string?>("--cloud-config") { Description = "A cloud-config the live system reads from the medium (install.auto: true installs unattended)", HelpName = "FILE" };
        var maxSize = new Option<string?>("--max-size") { Description = "Refuse an ISO larger than this (e.g. 4700M for a DVD)", HelpName = "SIZE" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan (files, boot images, sizes) and write nothing" };
        var command = new Command("iso", "Build a hybrid live ISO (UEFI, and BIOS when grub-pc-bin is installed) that boots the image and can install it")
        {
            image, root, output, cloudConfig, maxSize, dryRun,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var imageText = context.GetValue(image);
            var rootText = context.GetValue(root);
            if ((imageText is null) == (rootText is null))
            {
                throw new CliUsageException("give either an IMAGE or --root DIR", "e.g. basalt build iso --root ./rootfs -o basalt.iso, or basalt build iso oci-layout:./os:1.0 -o basalt.iso");
            }

            var outputPath = Path.GetFullPath(context.GetValue(output)!);
            var options = new IsoArtifactOptions
            {
                RootDirectory = rootText is null ? string.Empty : Path.GetFullPath(rootText),
                OutputPath = outputPath,
                CloudConfigPath = context.GetValue(cloudConfig) is { } config ? Path.GetFullPath(config) : null,
                MaxSizeBytes = context.GetValue(maxSize) is { } sizeText ? ParseSize(sizeText) : null,
            };
            if (rootText is not null)
            {
                return await BuildAsync(context, options, context.GetValue(dryRun), ct).ConfigureAwait(false);
            }

            // The medium names the image its squashfs holds, by digest, beside it: a node installed from it records that.
            return await UnpackedImage.BuildLiveMediumFromAsync(
                context,
                imageText!,
                outputPath,
                IsoArtifactPlan.SquashfsTarget,
                (unpacked, slots) => BuildAsync(context, options with { RootDirectory = unpacked, MediumFiles = [slots] }, context.GetValue(dryRun), ct),
                ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> BuildAsync(CommandContext context, IsoArtifactOptions options, bool dryRun, CancellationToken cancellationToken)
    {
        var plan = IsoArtifactPlanner.Plan(options);
        if (dryRun)
        {
            context.Console.Output.Write(plan.ToString());
            return ExitCodes.Success;
        }

        if (!plan.BootsBios)
        {
            context.Console.Error.WriteLine("note: grub-pc-bin is not installed, so this ISO boots under UEFI only (apt-get install grub-pc-bin for BIOS boot)");
        }

        var result = await new IsoArtifactBuilder(new ToolRunner()).BuildAsync(plan, cancellationToken).ConfigureAwait(false);
        context.Console.WriteText($"wrote {result.OutputPath} ({ByteSize.Format(result.IsoBytes)}, squashfs {ByteSize.Format(result.SquashfsBytes)}, {(result.BootsBios ? "UEFI and BIOS" : "UEFI only")}) in {result.Elapsed.TotalSeconds:0.0} s");
        return ExitCodes.Success;
    }

    private static long ParseSize(string text)
    {
        try
        {
            return ByteSize.Parse(text);
        }
        catch (FormatException exception)
        {
            throw new CliUsageException(exception.Message, "use e.g. --max-size 4700M");
        }
    }
}
