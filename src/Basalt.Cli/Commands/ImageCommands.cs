using System.CommandLine;
using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Oci.Images;
using Basalt.Oci.Layers;
using Basalt.Oci.References;

namespace Basalt.Cli.Commands;

/// <summary>`basalt pull`, `basalt push` and `basalt image inspect|unpack|save`: the OCI engine at the command line.</summary>
internal sealed class ImageCommands : ICommandGroup
{
    private const string SourceHelp = "Image: " + ImageSource.AcceptedForms;

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return Pull(binder);
        yield return Push(binder);
        yield return new Command("image", "Inspect, unpack and save images")
        {
            Inspect(binder),
            Unpack(binder),
            Save(binder),
        };
    }

    private static Argument<string> SourceArgument() => new("REF") { Description = SourceHelp };

    private static Command Pull(CommandBinder binder)
    {
        var source = SourceArgument();
        var command = new Command("pull", "Fetch an image into the blob cache (blobs already there are not fetched again)") { source };
        binder.SetHandler(command, async (context, ct) =>
        {
            var services = context.GetServices<CliServices>();
            var pull = await WithProgress(context, progress =>
                services.Images.PullAsync(CommandInputs.Source(context.GetRequiredValue(source)), CommandInputs.Platform(context.Settings), progress, ct)).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(PullOutput.From(pull), CliJson.Documents.PullOutput);
                return ExitCodes.Success;
            }

            var image = pull.Image;
            context.Console.WriteText($"pulled {image.Name}");
            context.Console.WriteText($"digest: {image.Digest}");
            context.Console.WriteText(
                $"{Plural(image.Layers.Count, "layer")}, {Units.Bytes(image.TotalSize)}; transferred {Units.Bytes(pull.BytesTransferred)} " +
                $"({pull.BlobsTransferred} blobs fetched, {pull.BlobsSkipped} already present)");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Push(CommandBinder binder)
    {
        var directory = new Argument<string>("DIR") { Description = "Directory whose tree becomes the image's single layer" };
        var reference = new Argument<string>("REF") { Description = "Registry reference to push to, e.g. localhost:5000/os:1.0" };
        var labels = new Option<string[]>("--label", "-l")
        {
            Description = "Image label KEY=VALUE (repeatable)",
            HelpName = "KEY=VALUE",
            DefaultValueFactory = _ => [],
        };
        var command = new Command("push", "Make an image from a directory (one gzip layer) and push it to a registry") { directory, reference, labels };
        binder.SetHandler(command, async (context, ct) =>
        {
            var target = CommandInputs.RegistryReference(context.GetRequiredValue(reference));
            var labelValues = CommandInputs.Labels(context.GetValue(labels));
            var platform = CommandInputs.Platform(context.Settings);
            var services = context.GetServices<CliServices>();
            var pushed = await WithProgress(context, progress =>
                services.Images.PushDirectoryAsync(context.GetRequiredValue(directory), target, labelValues, platform, progress, ct)).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new PushOutput(pushed.Reference, pushed.Digest.Value, pushed.Layer.Digest.Value, pushed.Layer.Size, pushed.Config.Digest.Value),
                    CliJson.Documents.PushOutput);
                return ExitCodes.Success;
            }

            context.Console.WriteText($"pushed {pushed.Reference}");
            context.Console.WriteText($"digest: {pushed.Digest}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Inspect(CommandBinder binder)
    {
        var source = SourceArgument();
        var command = new Command("inspect", "Show an image's manifest, config and layers (fetches no layers)") { source };
        binder.SetHandler(command, async (context, ct) =>
        {
            var services = context.GetServices<CliServices>();
            var image = await services.Images.InspectAsync(CommandInputs.Source(context.GetRequiredValue(source)), CommandInputs.Platform(context.Settings), ct).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(InspectOutput.From(image), CliJson.Documents.InspectOutput);
                return ExitCodes.Success;
            }

            WriteInspection(context.Console, image);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Unpack(CommandBinder binder)
    {
        var source = SourceArgument();
        var directory = new Argument<string>("DIR") { Description = "Directory to unpack the root filesystem into (created; must be empty or absent)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace DIR atomically if it already has content" };
        var command = new Command("unpack", "Unpack an image's layers into a directory (staged, renamed into place when complete)") { source, directory, overwrite };
        binder.SetHandler(command, async (context, ct) =>
        {
            var services = context.GetServices<CliServices>();
            var options = new LayerApplyOptions { OverwriteExisting = context.GetValue(overwrite) };
            var result = await WithProgress(context, progress => services.Images.UnpackAsync(
                CommandInputs.Source(context.GetRequiredValue(source)),
                context.GetRequiredValue(directory),
                CommandInputs.Platform(context.Settings),
                options,
                progress,
                ct)).ConfigureAwait(false);
            foreach (var warning in result.Warnings)
            {
                context.Console.Error.WriteLine($"warning: {warning}");
            }

            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new UnpackOutput(result.Pull.Image.Name, result.Pull.Image.Digest.Value, result.Target, result.EntriesApplied, result.Pull.BytesTransferred, result.Warnings),
                    CliJson.Documents.UnpackOutput);
                return ExitCodes.Success;
            }

            context.Console.WriteText($"unpacked {result.Pull.Image.Name} ({result.Pull.Image.Digest.Short}) into {result.Target}: {result.EntriesApplied} entries");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Save(CommandBinder binder)
    {
        var source = SourceArgument();
        var layout = new Option<string>("--oci-layout")
        {
            Description = "OCI image layout directory to write (created if absent); read it back with oci-layout:DIR[:TAG]",
            HelpName = "DIR",
            Required = true,
        };
        var tag = new Option<string?>("--tag", "-t") { Description = "Tag to list the image under in index.json (default: the source's tag, else latest)", HelpName = "TAG" };
        var command = new Command("save", "Write an image into an OCI image layout directory") { source, layout, tag };
        binder.SetHandler(command, async (context, ct) =>
        {
            var services = context.GetServices<CliServices>();
            var result = await WithProgress(context, progress => services.Images.SaveAsync(
                CommandInputs.Source(context.GetRequiredValue(source)),
                context.GetValue(layout)!,
                CommandInputs.LayoutTag(context.GetValue(tag)),
                CommandInputs.Platform(context.Settings),
                progress,
                ct)).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new SaveOutput(result.Image.Name, result.Image.Digest.Value, result.LayoutPath, result.Tag, result.BytesWritten),
                    CliJson.Documents.SaveOutput);
                return ExitCodes.Success;
            }

            context.Console.WriteText($"saved {result.Image.Name} ({result.Image.Digest.Short}) to {ImageSource.LayoutPrefix}{result.LayoutPath}:{result.Tag}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    private static async Task<T> WithProgress<T>(CommandContext context, Func<IProgress<TransferUpdate>, Task<T>> run)
    {
        context.Console.Trace($"cache: {context.GetServices<CliServices>().Store.Root}");
        using var reporter = TransferReporter.For(context.Console);
        return await run(reporter).ConfigureAwait(false);
    }

    private static void WriteInspection(CliConsole console, ResolvedImage image)
    {
        var output = console.Output;
        output.WriteLine($"Name:       {image.Name}");
        output.WriteLine($"Digest:     {image.Digest}");
        if (image.IndexDigest is { } index)
        {
            output.WriteLine($"Index:      {index}");
        }

        output.WriteLine($"Media type: {image.MediaType}");
        output.WriteLine($"Platform:   {image.Platform}");
        if (image.Config.Created is { } created)
        {
            output.WriteLine($"Created:    {created:yyyy-MM-dd'T'HH:mm:ss'Z'}");
        }

        output.WriteLine($"Size:       {Units.Bytes(image.TotalSize)}");
        if (image.Config.Config is { } config)
        {
            foreach (var (key, value) in config.Labels ?? new Dictionary<string, string>())
            {
                output.WriteLine($"Label:      {key}={value}");
            }

            if (config.Entrypoint is { Count: > 0 } entrypoint)
            {
                output.WriteLine($"Entrypoint: {string.Join(' ', entrypoint)}");
            }

            if (config.Cmd is { Count: > 0 } cmd)
            {
                output.WriteLine($"Cmd:        {string.Join(' ', cmd)}");
            }

            foreach (var variable in config.Env ?? [])
            {
                output.WriteLine($"Env:        {variable}");
            }
        }

        output.WriteLine($"Config:     {image.Manifest.Config.Digest} {Units.Bytes(image.Manifest.Config.Size)}");
        output.WriteLine($"Layers:     {image.Layers.Count}");
        foreach (var layer in image.Layers)
        {
            output.WriteLine($"  {layer.Digest}  {Units.Bytes(layer.Size),10}  {layer.MediaType}");
        }
    }
}
