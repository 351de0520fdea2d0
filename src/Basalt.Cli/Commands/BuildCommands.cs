using System.CommandLine;
using System.Text.Json.Serialization;
using Basalt.Build.Base;
using Basalt.Build.Images;
using Basalt.Build.Init;
using Basalt.Cli.Hosting;
using Basalt.Oci.References;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt init` (turn a root filesystem into a Basalt OS tree), `basalt build base` (the default
/// Debian base as an image) and `basalt build image` (base + init as a new layer: the OS image).
/// </summary>
internal sealed class BuildCommands : ICommandGroup
{
    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return Init(binder);
        yield return new Command("build", "Build the default base and OS images")
        {
            Base(binder),
            Image(binder),
            DiskCommands.BuildDisk(binder),
            DiskCommands.BuildRaw(binder),
            DiskCommands.BuildQcow2(binder),
            IsoCommands.BuildIso(binder),
            NetbootCommands.BuildNetboot(binder),
        };
    }

    private static Option<string> BinaryOption() =>
        new("--basalt-binary") { Description = "The basalt executable placed at /usr/bin/basalt (default: this one)", HelpName = "PATH" };

    private static Option<string> VersionOption() =>
        new("--os-version") { Description = "BASALT_VERSION written to os-release and the io.basalt.version label (default: this basalt's version)" };

    private static Option<string> SuiteOption() =>
        new("--suite") { Description = $"Debian suite of the default base (default: {BaseImageSpec.DefaultSuite})" };

    private static Option<string> MirrorOption() =>
        new("--mirror") { Description = "Debian mirror for the default base (default: the one this machine's apt uses)", HelpName = "URL" };

    private static Option<string> LayoutOption() =>
        new("--oci-layout") { Description = "Write the image into this OCI layout directory (created if absent)", HelpName = "DIR" };

    private static Option<string> PushOption() =>
        new("--push") { Description = "Push the image to this registry reference", HelpName = "REF" };

    private static Command Init(CommandBinder binder)
    {
        var root = new Option<string>("--root") { Description = "Root filesystem to turn into a Basalt OS tree (default: /, as in a Dockerfile RUN step)", HelpName = "DIR" };
        var binary = BinaryOption();
        var version = VersionOption();
        var imageRef = new Option<string>("--image-ref") { Description = "BASALT_IMAGE_REF written to os-release", HelpName = "REF" };
        var noPackages = new Option<bool>("--no-packages") { Description = "Do not install missing packages" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and change nothing" };
        var command = new Command("init", "Turn a root filesystem into a Basalt OS tree: packages, kernel, initramfs, units, basalt itself") { root, binary, version, imageRef, noPackages, dryRun };
        binder.SetHandler(command, async (context, ct) =>
        {
            var plan = new InitPlanner().Plan(new InitOptions
            {
                Root = context.GetValue(root) ?? "/",
                BasaltBinary = context.GetValue(binary),
                Version = context.GetValue(version),
                ImageReference = context.GetValue(imageRef),
                InstallPackages = !context.GetValue(noPackages),
            });
            if (context.GetValue(dryRun))
            {
                if (context.Console.IsJson)
                {
                    context.Console.WriteJson(
                        new InitPlanOutput(plan.Root, plan.InPlace, plan.Distro.Id, plan.Distro.Family.ToString(), plan.Packages.Missing, plan.Files.Select(f => f.Path).ToList(), plan.UnitsToEnable),
                        BuildJsonContext.Default.InitPlanOutput);
                }
                else
                {
                    context.Console.Output.Write(plan.Describe());
                }

                return ExitCodes.Success;
            }

            var result = await new InitExecutor(new ToolRunner()).ExecuteAsync(plan, ct).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(new InitOutput(plan.Root, result.KernelVersion, result.Changes), BuildJsonContext.Default.InitOutput);
                return ExitCodes.Success;
            }

            foreach (var change in result.Changes)
            {
                context.Console.WriteText(change);
            }

            context.Console.WriteText(result.Changes.Count == 0
                ? $"{plan.Root} already is a Basalt OS tree (kernel {result.KernelVersion}); nothing changed"
                : $"{plan.Root} is a Basalt OS tree now (kernel {result.KernelVersion})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Base(CommandBinder binder)
    {
        var suite = SuiteOption();
        var mirror = MirrorOption();
        var layout = LayoutOption();
        var tag = new Option<string>("--tag") { Description = "Tag in the OCI layout (default: the suite)" };
        var push = PushOption();
        var command = new Command("base", "Build the default Debian base image with debootstrap (cached by its inputs)") { suite, mirror, layout, tag, push };
        binder.SetHandler(command, async (context, ct) =>
        {
            var services = context.GetServices<CliServices>();
            var spec = BaseSpec(context.GetValue(suite), context.GetValue(mirror));
            var pushTarget = context.GetValue(push) is { } pushText ? CommandInputs.RegistryReference(pushText) : null;
            var layoutTag = CommandInputs.LayoutTag(context.GetValue(tag)) ?? spec.Suite;
            var built = await new BaseImageBuilder(new DebootstrapBaseBuilder(new ToolRunner()))
                .BuildAsync(spec, BuildCache(services), services.Store, ct).ConfigureAwait(false);
            var destination = await PublishAsync(services, built.Image, context.GetValue(layout), layoutTag, pushTarget, ct).ConfigureAwait(false);
            Report(context, built.Image, destination, built.Reused ? "base image (cached)" : "base image");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Image(CommandBinder binder)
    {
        var from = new Option<string>("--from") { Description = "Base image: " + ImageSource.AcceptedForms + " (default: the default base)", HelpName = "SRC" };
        var suite = SuiteOption();
        var mirror = MirrorOption();
        var imageTag = new Option<string>("--tag") { Description = "The image's name, written as BASALT_IMAGE_REF (default: the --push reference)", HelpName = "REF" };
        var layout = LayoutOption();
        var layoutTag = new Option<string>("--layout-tag") { Description = "Tag in the OCI layout (default: latest)" };
        var push = PushOption();
        var binary = BinaryOption();
        var version = VersionOption();
        var labels = new Option<string[]>("--label", "-l") { Description = "Image label KEY=VALUE (repeatable)", HelpName = "KEY=VALUE", DefaultValueFactory = _ => [] };
        var command = new Command("image", "Build an OS image: unpack the base, run init, commit the difference as a new layer")
        {
            from, suite, mirror, imageTag, layout, layoutTag, push, binary, version, labels,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var services = context.GetServices<CliServices>();
            var pushTarget = context.GetValue(push) is { } pushText ? CommandInputs.RegistryReference(pushText) : null;
            var tagInLayout = CommandInputs.LayoutTag(context.GetValue(layoutTag)) ?? "latest";
            var extraLabels = CommandInputs.Labels(context.GetValue(labels));
            if (context.GetValue(layout) is null && pushTarget is null)
            {
                throw new CliUsageException("say where the image goes", "pass --oci-layout DIR and/or --push REF");
            }

            BuiltImage baseImage;
            string baseName;
            if (context.GetValue(from) is { } fromText)
            {
                var source = CommandInputs.Source(fromText);
                var pulled = await services.Images.PullAsync(source, CommandInputs.Platform(context.Settings), null, ct).ConfigureAwait(false);
                baseImage = BuiltImage.From(pulled.Image);
                baseName = source.ToString();
            }
            else
            {
                var spec = BaseSpec(context.GetValue(suite), context.GetValue(mirror));
                var built = await new BaseImageBuilder(new DebootstrapBaseBuilder(new ToolRunner()))
                    .BuildAsync(spec, BuildCache(services), services.Store, ct).ConfigureAwait(false);
                baseImage = built.Image;
                baseName = built.ReferenceName;
            }

            var tools = new ToolRunner();
            var result = await new ImageBuilder(tools, new InitExecutor(tools)).BuildAsync(
                new ImageBuildRequest
                {
                    Base = baseImage,
                    BaseName = baseName,
                    WorkDirectory = Path.Combine(BuildCache(services), "work"),
                    Init = new InitOptions
                    {
                        BasaltBinary = context.GetValue(binary),
                        Version = context.GetValue(version),
                        ImageReference = context.GetValue(imageTag) ?? pushTarget?.ToString(),
                    },
                    Labels = extraLabels,
                },
                services.Store,
                ct).ConfigureAwait(false);
            var destination = await PublishAsync(services, result.Image, context.GetValue(layout), tagInLayout, pushTarget, ct).ConfigureAwait(false);
            Report(context, result.Image, destination, $"OS image (kernel {result.Init.KernelVersion})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static BaseImageSpec BaseSpec(string? suite, string? mirror)
    {
        var chosenSuite = suite ?? BaseImageSpec.DefaultSuite;
        Uri mirrorUri;
        if (mirror is not null)
        {
            if (!Uri.TryCreate(mirror, UriKind.Absolute, out var parsed))
            {
                throw new CliUsageException($"'{mirror}' is not a URL", "pass --mirror http://deb.debian.org/debian");
            }

            mirrorUri = parsed;
        }
        else
        {
            mirrorUri = AptSources.FindDebianMirror(AptSources.Read(), chosenSuite) ?? throw new NoAptMirrorException(chosenSuite);
        }

        return new BaseImageSpec { Suite = chosenSuite, Mirror = mirrorUri };
    }

    /// <summary>Debootstrap trees and build work live beside the blob store, on the same filesystem.</summary>
    private static string BuildCache(CliServices services) => Path.Combine(services.Store.Root, "build");

    private static async Task<IReadOnlyList<PublishResult>> PublishAsync(CliServices services, BuiltImage image, string? layout, string layoutTag, ImageReference? push, CancellationToken ct)
    {
        var results = new List<PublishResult>();
        if (layout is not null)
        {
            results.Add(await ImagePublisher.WriteLayoutAsync(services.Store, image, layout, layoutTag, ct).ConfigureAwait(false));
        }

        if (push is not null)
        {
            results.Add(await ImagePublisher.PushAsync(services.Store, image, services.Registry, push, ct).ConfigureAwait(false));
        }

        return results;
    }

    private static void Report(CommandContext context, BuiltImage image, IReadOnlyList<PublishResult> destinations, string what)
    {
        if (context.Console.IsJson)
        {
            context.Console.WriteJson(new BuildOutput(image.Digest.Value, image.Layers.Count, destinations.Select(d => d.Destination).ToList()), BuildJsonContext.Default.BuildOutput);
            return;
        }

        context.Console.WriteText($"built {what}: {image.Digest} ({image.Layers.Count} layers)");
        foreach (var destination in destinations)
        {
            context.Console.WriteText($"written to {destination.Destination}");
        }

        if (destinations.Count == 0)
        {
            context.Console.WriteText("kept in the blob cache only (pass --oci-layout DIR or --push REF to write it out)");
        }
    }
}

internal sealed record InitOutput(string Root, string KernelVersion, IReadOnlyList<string> Changes);

internal sealed record InitPlanOutput(string Root, bool InPlace, string Distro, string Family, IReadOnlyList<string> PackagesToInstall, IReadOnlyList<string> Files, IReadOnlyList<string> Units);

internal sealed record BuildOutput(string Digest, int Layers, IReadOnlyList<string> Destinations);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(InitOutput))]
[JsonSerializable(typeof(InitPlanOutput))]
[JsonSerializable(typeof(BuildOutput))]
internal sealed partial class BuildJsonContext : JsonSerializerContext;
