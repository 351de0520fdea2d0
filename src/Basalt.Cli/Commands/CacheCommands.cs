using System.CommandLine;
using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Oci.Store;

namespace Basalt.Cli.Commands;

/// <summary>`basalt cache ls|prune`: the shared blob cache.</summary>
internal sealed class CacheCommands : ICommandGroup
{
    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return new Command("cache", "List and prune the blob cache shared by every command")
        {
            List(binder),
            Prune(binder),
        };
    }

    private static Command List(CommandBinder binder)
    {
        var blobs = new Option<bool>("--blobs") { Description = "List every blob too, not only image references" };
        var command = new Command("ls", "List the images and blobs in the cache") { blobs };
        binder.SetHandler(command, (context, _) =>
        {
            var store = context.GetServices<CliServices>().Store;
            var references = store.ListReferences();
            var stored = store.List();
            var total = stored.Sum(b => b.Size);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new CacheListOutput(
                        store.Root,
                        [.. references.Select(r => new CacheReferenceOutput(r.Name, r.ManifestDigest.Value))],
                        [.. stored.Select(b => new CacheBlobOutput(b.Digest.Value, b.Size, b.LastAccessTime))],
                        total),
                    CliJson.Documents.CacheListOutput);
                return Task.FromResult(ExitCodes.Success);
            }

            var output = context.Console.Output;
            output.WriteLine($"cache: {store.Root}");
            foreach (var reference in references.OrderBy(r => r.Name, StringComparer.Ordinal))
            {
                output.WriteLine($"  {reference.ManifestDigest.Algorithm}:{reference.ManifestDigest.Short}  {reference.Name}");
            }

            if (context.GetValue(blobs))
            {
                foreach (var blob in stored.OrderBy(b => b.Digest.Value, StringComparer.Ordinal))
                {
                    output.WriteLine($"  {blob.Digest}  {Units.Bytes(blob.Size),10}");
                }
            }

            output.WriteLine($"{references.Count} images, {stored.Count} blobs, {Units.Bytes(total)}");
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static Command Prune(CommandBinder binder)
    {
        var all = new Option<bool>("--all") { Description = "Remove every blob and image reference, not only unreferenced blobs" };
        var command = new Command("prune", "Remove blobs no cached image needs (all of them with --all)") { all };
        binder.SetHandler(command, (context, _) =>
        {
            var store = context.GetServices<CliServices>().Store;
            var result = store.Prune(context.GetValue(all) ? PrunePolicy.All : PrunePolicy.Unreferenced);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(
                    new CachePruneOutput(
                        [.. result.RemovedBlobs.Select(d => d.Value)],
                        result.RemovedReferences,
                        result.RemovedPartials.Count,
                        result.BytesFreed),
                    CliJson.Documents.CachePruneOutput);
                return Task.FromResult(ExitCodes.Success);
            }

            context.Console.WriteText(
                $"removed {result.RemovedBlobs.Count} blobs, {result.RemovedReferences.Count} images, {result.RemovedPartials.Count} partial downloads; freed {Units.Bytes(result.BytesFreed)}");
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
