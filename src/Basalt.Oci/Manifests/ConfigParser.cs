using System.Text.Json;
using Basalt.Oci.Model;

namespace Basalt.Oci.Manifests;

/// <summary>Reads and checks image configuration blobs (OCI image-spec config.md, Docker image JSON).</summary>
public static class ConfigParser
{
    /// <summary>
    /// Largest config accepted: 8 MiB. Configs carry history and labels and run larger than manifests,
    /// but a real one is a few KiB; the limit keeps a hostile blob from being held in memory.
    /// </summary>
    public const int MaxConfigBytes = 8 * 1024 * 1024;

    /// <summary>
    /// Parses <paramref name="content"/>; when <paramref name="descriptor"/> is given, its size and
    /// digest must match the content first.
    /// </summary>
    /// <exception cref="InvalidImageConfigException">oversized, not JSON, or os/architecture/rootfs missing.</exception>
    /// <exception cref="DigestMismatchException">the content does not hash to the descriptor's digest.</exception>
    public static ImageConfig Parse(ReadOnlySpan<byte> content, Descriptor? descriptor = null)
    {
        if (content.Length > MaxConfigBytes)
        {
            throw new InvalidImageConfigException(
                $"it is {content.Length} bytes, larger than the {MaxConfigBytes / (1024 * 1024)} MiB limit for image configs");
        }

        if (descriptor is not null)
        {
            if (descriptor.Size != content.Length)
            {
                throw new InvalidImageConfigException(
                    $"the manifest says the config is {descriptor.Size} bytes but it is {content.Length}");
            }

            using var hasher = descriptor.Digest.CreateHasher();
            hasher.AppendData(content);
            var actual = Digest.FromHash(descriptor.Digest.Algorithm, hasher.GetHashAndReset());
            if (actual != descriptor.Digest)
            {
                throw new DigestMismatchException(descriptor.Digest, actual, "image config");
            }
        }

        if (content.IsEmpty)
        {
            throw new InvalidImageConfigException("the document is empty");
        }

        ImageConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(content, OciJsonContext.Default.ImageConfig);
        }
        catch (JsonException ex)
        {
            var at = ex.Path is { Length: > 0 } path && !ex.Message.Contains(path, StringComparison.Ordinal) ? $" (at {path})" : string.Empty;
            throw new InvalidImageConfigException(ex.Message + at, inner: ex);
        }

        if (config is null)
        {
            throw new InvalidImageConfigException("the document is JSON null");
        }

        if (string.IsNullOrWhiteSpace(config.OS))
        {
            throw new InvalidImageConfigException("'os' is empty; an image config names the operating system it is for, e.g. \"os\": \"linux\"");
        }

        if (string.IsNullOrWhiteSpace(config.Architecture))
        {
            throw new InvalidImageConfigException("'architecture' is empty; an image config names its CPU architecture, e.g. \"architecture\": \"amd64\"");
        }

        if (config.RootFs is null)
        {
            throw new InvalidImageConfigException("'rootfs' is null");
        }

        if (config.RootFs.Type != "layers")
        {
            throw new InvalidImageConfigException($"rootfs.type is '{config.RootFs.Type}'; only 'layers' is defined");
        }

        if (config.RootFs.DiffIds is null)
        {
            throw new InvalidImageConfigException("rootfs.diff_ids is null");
        }

        return config;
    }

    /// <summary>
    /// Checks that <paramref name="config"/> describes <paramref name="manifest"/>: one diff_id per
    /// layer, since layer i is verified against diff_ids[i] after decompression.
    /// </summary>
    /// <exception cref="InvalidImageConfigException">the counts differ.</exception>
    public static void EnsureMatches(this ImageConfig config, ImageManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(manifest);
        var diffIds = config.RootFs.DiffIds.Count;
        var layers = manifest.Layers.Count;
        if (diffIds != layers)
        {
            throw new InvalidImageConfigException(
                $"the config lists {diffIds} diff_ids but the manifest has {layers} layers",
                "the image is inconsistent; rebuild and re-push it");
        }
    }
}
