using Basalt.Build.Init;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Oci.Store;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Images;

/// <summary>What <c>basalt build image</c> makes from a base already in the blob store.</summary>
public sealed record ImageBuildRequest
{
    /// <summary>The base image; its manifest, config and layers must be in the store.</summary>
    public required BuiltImage Base { get; init; }

    /// <summary>A name for the base in labels and messages (e.g. the --from text).</summary>
    public required string BaseName { get; init; }

    /// <summary>Where the base is unpacked, changed and compared; removed afterwards.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>How init runs; its Root is set by the builder.</summary>
    public InitOptions Init { get; init; } = new();

    /// <summary>The image's creation date; null: now.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>Extra labels, on top of the base's and Basalt's.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}

public sealed record ImageBuildResult(BuiltImage Image, Descriptor InitLayer, InitResult Init);

/// <summary>
/// Unpacks a base, runs init over it, and commits the difference as one new layer on top of the
/// base's layers: the OS image nodes install and upgrade from.
/// </summary>
public sealed class ImageBuilder
{
    public const string VersionLabel = "io.basalt.version";
    public const string BaseLabel = "io.basalt.base";
    public const string BaseDigestLabel = "io.basalt.base.digest";
    public const string KernelLabel = "io.basalt.kernel";

    private readonly IToolRunner _tools;
    private readonly InitExecutor _init;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    public ImageBuilder(IToolRunner tools, InitExecutor init, ILogger<ImageBuilder>? logger = null, TimeProvider? clock = null)
    {
        _tools = tools;
        _init = init;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _clock = clock ?? TimeProvider.System;
    }

    public async Task<ImageBuildResult> BuildAsync(ImageBuildRequest request, BlobStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(store);
        if (!Posix.IsRoot)
        {
            throw new InitRequiresRootException("unpacking an OS image keeps its owners and device nodes, and init chroots into it");
        }

        var work = Path.Combine(Path.GetFullPath(request.WorkDirectory), $"build-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var lower = Path.Combine(work, "lower");
            var upper = Path.Combine(work, "upper");
            var layers = request.Base.Layers
                .Select((layer, i) => new LayerBlob(store.GetPath(layer.Digest), layer.MediaType, request.Base.Config.RootFs.DiffIds[i]))
                .ToList();
            var applier = new LayerApplier();
            _logger.LogInformation("unpacking {Base} ({Layers} layers)", request.BaseName, layers.Count);
            await applier.ApplyAsync(lower, layers, cancellationToken: cancellationToken).ConfigureAwait(false);
            await applier.ApplyAsync(upper, layers, cancellationToken: cancellationToken).ConfigureAwait(false);

            var plan = new InitPlanner().Plan(request.Init with { Root = upper });
            _logger.LogInformation("{Plan}", plan.Describe());
            var init = await _init.ExecuteAsync(plan, cancellationToken).ConfigureAwait(false);

            var layer = await LayerBlobs.WriteDiffAsync(store, work, lower, upper, cancellationToken).ConfigureAwait(false);
            var labels = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [VersionLabel] = request.Init.Version ?? InitOptions.DefaultVersion,
                [BaseLabel] = request.BaseName,
                [BaseDigestLabel] = request.Base.Digest.Value,
                [KernelLabel] = init.KernelVersion,
            };
            foreach (var (key, value) in request.Labels)
            {
                labels[key] = value;
            }

            var image = ImageComposition.Compose(
                store, request.Base, [layer], "linux", plan.Architecture, request.Created ?? _clock.GetUtcNow(), labels, "basalt init");
            return new ImageBuildResult(image, layer.Layer, init);
        }
        finally
        {
            await RemoveTreeAsync(work).ConfigureAwait(false);
        }
    }

    private async Task RemoveTreeAsync(string path)
    {
        try
        {
            // --one-file-system: never follow into a mount a failed step might have left behind.
            await _tools.RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", path])).ConfigureAwait(false);
        }
        catch (ToolFailedException exception)
        {
            _logger.LogWarning("could not remove {Path}: {Message}", path, exception.Message);
        }
    }
}
