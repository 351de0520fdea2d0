using System.CommandLine;
using System.Globalization;
using System.Net;
using Basalt.Build.Artifacts;
using Basalt.Build.Netboot;
using Basalt.Cli.Hosting;
using Basalt.Disk;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>`basalt build netboot` (kernel, initrd, squashfs, cmdline, iPXE script) and `basalt serve netboot` (HTTP).</summary>
internal sealed class NetbootCommands : ICommandGroup
{
    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return new Command("serve", "Serve artifacts to nodes") { ServeNetboot(binder) };
    }

    /// <summary>`build netboot`, added to the `build` command by <see cref="BuildCommands"/>.</summary>
    internal static Command BuildNetboot(CommandBinder binder)
    {
        var image = new Argument<string?>("IMAGE") { Description = "Basalt OS image to build from: " + Oci.References.ImageSource.AcceptedForms, Arity = ArgumentArity.ZeroOrOne };
        var root = new Option<string?>("--root") { Description = "An unpacked Basalt OS tree to build from instead of an image", HelpName = "DIR" };
        var output = new Option<string>("--out", "-o") { Description = "The directory to write vmlinuz, initrd, rootfs.squashfs, cmdline and boot.ipxe into", Required = true, HelpName = "DIR" };
        var url = new Option<string?>("--url") { Description = "The URL the directory will be served from, written into boot.ipxe (basalt serve netboot fills in its own)", HelpName = "URL" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and write nothing" };
        var command = new Command("netboot", "Build a netboot directory: kernel, initrd, root squashfs, kernel command line and an iPXE script")
        {
            image, root, output, url, dryRun,
        };
        binder.SetHandler(command, async (context, ct) =>
        {
            var imageText = context.GetValue(image);
            var rootText = context.GetValue(root);
            if ((imageText is null) == (rootText is null))
            {
                throw new CliUsageException("give either an IMAGE or --root DIR", "e.g. basalt build netboot --root ./rootfs -o ./netboot");
            }

            var outputPath = Path.GetFullPath(context.GetValue(output)!);
            var options = new NetbootArtifactOptions { RootDirectory = rootText is null ? string.Empty : Path.GetFullPath(rootText), OutputDirectory = outputPath };
            if (context.GetValue(url) is { } urlText)
            {
                if (!Uri.TryCreate(urlText.EndsWith('/') ? urlText : urlText + "/", UriKind.Absolute, out var baseUrl) || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
                {
                    throw new CliUsageException($"--url {urlText} is not an http(s) URL", "e.g. --url http://10.0.2.2:8080/");
                }

                options = options with { BaseUrl = baseUrl };
            }

            if (rootText is not null)
            {
                return await BuildAsync(context, options, context.GetValue(dryRun), ct).ConfigureAwait(false);
            }

            // The directory names the image its squashfs holds, by digest, beside it: a node netbooted from it downloads
            // that file too, and one installed from that live system records the image.
            return await UnpackedImage.BuildLiveMediumFromAsync(
                context,
                imageText!,
                outputPath,
                "/" + NetbootArtifactPlan.SquashfsName,
                (unpacked, slots) => BuildAsync(context, options with { RootDirectory = unpacked, MediumFiles = [slots] }, context.GetValue(dryRun), ct),
                ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> BuildAsync(CommandContext context, NetbootArtifactOptions options, bool dryRun, CancellationToken cancellationToken)
    {
        var plan = NetbootArtifactPlanner.Plan(options);
        if (dryRun)
        {
            context.Console.Output.Write(plan.ToString());
            return ExitCodes.Success;
        }

        var result = await new NetbootArtifactBuilder(new ToolRunner()).BuildAsync(plan, cancellationToken).ConfigureAwait(false);
        context.Console.WriteText($"wrote {result.OutputDirectory} (squashfs {ByteSize.Format(result.SquashfsBytes)}) in {result.Elapsed.TotalSeconds:0.0} s; serve it with: basalt serve netboot {result.OutputDirectory}");
        return ExitCodes.Success;
    }

    private static Command ServeNetboot(CommandBinder binder)
    {
        var directory = new Argument<string>("DIR") { Description = "A directory made by basalt build netboot" };
        var cloudConfig = new Option<string?>("--cloud-config") { Description = "A cloud-config served at /cloud-config.yaml", HelpName = "FILE" };
        var listen = new Option<string>("--listen") { Description = "Address and port to listen on", DefaultValueFactory = _ => "127.0.0.1:8080", HelpName = "ADDR:PORT" };
        var command = new Command("netboot", "Serve a netboot directory over HTTP (Range supported) and log every node that fetches; Ctrl-C stops") { directory, cloudConfig, listen };
        binder.SetHandler(command, async (context, ct) =>
        {
            var listenText = context.GetValue(listen)!;
            if (!IPEndPoint.TryParse(listenText, out var endpoint) || endpoint.Port == 0)
            {
                throw new CliUsageException($"--listen {listenText} is not ADDRESS:PORT", "e.g. --listen 127.0.0.1:8080 or --listen 0.0.0.0:8080");
            }

            var options = new NetbootServerOptions
            {
                Directory = context.GetValue(directory)!,
                CloudConfigFile = context.GetValue(cloudConfig),
                Listen = endpoint,
            };
            var error = context.Console.Error;
            await using var server = await NetbootServer.StartAsync(options, fetch =>
            {
                lock (error)
                {
                    error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:HH:mm:ss} {fetch.Client} {fetch.Method} {fetch.Path} {fetch.Status}{(fetch.Range is null ? string.Empty : " " + fetch.Range)}"));
                }
            }, ct).ConfigureAwait(false);
            error.WriteLine($"serving {Path.GetFullPath(options.Directory)} at {server.BaseUrl} (iPXE: chain {server.BaseUrl}{NetbootArtifactPlan.IpxeName}); Ctrl-C stops");
            await server.RunUntilCancelledAsync(ct).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
