using Basalt.Build.Base;
using Basalt.Oci.Model;
using Basalt.Oci.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Images;

/// <summary>The default base as an image, and whether it came from the cache.</summary>
public sealed record BaseImageResult(BuiltImage Image, string ReferenceName, bool Reused);

/// <summary>
/// The embedded default base as an OCI image: the debootstrap rootfs (cached by its inputs) written as
/// one layer with a fixed creation date and labels, kept in the blob store under a name derived from
/// the inputs. A second call with the same inputs finds that name and returns the same digest at once.
/// </summary>
public sealed class BaseImageBuilder
{
    /// <summary>The creation date written into every base image, so its config depends on its inputs only.</summary>
    public static readonly DateTimeOffset Created = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Bumped when the way the image is written changes, so older cached images are not reused.</summary>
    private const string FormatVersion = "1";

    private readonly DebootstrapBaseBuilder _rootfsBuilder;
    private readonly ILogger _logger;

    public BaseImageBuilder(DebootstrapBaseBuilder rootfsBuilder, ILogger<BaseImageBuilder>? logger = null)
    {
        _rootfsBuilder = rootfsBuilder;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The blob-store reference naming the base image built from <paramref name="spec"/>.</summary>
    public static string ReferenceName(BaseImageSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return $"basalt-base/{spec.Suite}-{spec.Architecture}:{spec.CacheKey}-f{FormatVersion}";
    }

    public static IReadOnlyDictionary<string, string> Labels(BaseImageSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["io.basalt.base.suite"] = spec.Suite,
            ["io.basalt.base.variant"] = spec.Variant,
            ["io.basalt.base.packages"] = string.Join(',', spec.Packages),
            ["io.basalt.base.key"] = spec.CacheKey,
            ["org.opencontainers.image.title"] = $"Basalt default base (Debian {spec.Suite})",
            ["org.opencontainers.image.created"] = Created.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    public async Task<BaseImageResult> BuildAsync(BaseImageSpec spec, string cacheDirectory, BlobStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(store);
        var name = ReferenceName(spec);
        if (store.TryGetReference(name, out var cached) && store.Contains(cached))
        {
            var image = BuiltImage.Load(store, cached);
            if (image.Layers.All(layer => store.Contains(layer.Digest)))
            {
                _logger.LogInformation("base image {Name} is cached: {Digest}", name, cached);
                return new BaseImageResult(image, name, Reused: true);
            }
        }

        var rootfs = await _rootfsBuilder.BuildAsync(spec, cacheDirectory, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("writing the base layer from {Path}", rootfs.Path);
        var work = Path.Combine(cacheDirectory, "work");
        var layer = await LayerBlobs.WriteAsync(store, work, rootfs.Path, cancellationToken).ConfigureAwait(false);
        var built = ImageComposition.Compose(store, null, [layer], "linux", spec.Architecture, Created, Labels(spec), $"debootstrap --variant={spec.Variant} {spec.Suite}");
        store.SetReference(name, built.Digest);
        return new BaseImageResult(built, name, Reused: false);
    }
}
