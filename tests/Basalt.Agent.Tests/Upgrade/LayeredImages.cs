using System.Formats.Tar;
using System.Text.Json;
using Basalt.Oci.Layout;
using Basalt.Oci.Model;
using Basalt.Oci.References;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>Images of several layers in an OCI layout, each layer the tar of a directory (a file named <c>.wh.X</c> is a whiteout).</summary>
internal static class LayeredImages
{
    /// <summary>Writes an image of <paramref name="layerDirectories"/> (bottom first) under <paramref name="tag"/>; returns its source text.</summary>
    public static async Task<string> WriteAsync(string layout, string tag, params string[] layerDirectories)
    {
        using var directory = OciLayoutDirectory.OpenOrCreate(layout);
        var layers = new List<Descriptor>();
        var diffIds = new List<Digest>();
        foreach (var layer in layerDirectories)
        {
            var tar = await TarOfAsync(layer);
            layers.Add(await directory.WriteBlobAsync(MediaTypes.OciLayer, tar));
            diffIds.Add(Digest.Sha256(tar));
        }

        var config = await directory.WriteBlobAsync(
            MediaTypes.OciConfig,
            JsonSerializer.SerializeToUtf8Bytes(new ImageConfig { Architecture = "amd64", OS = "linux", RootFs = new RootFs { DiffIds = diffIds } }, OciJsonContext.Default.ImageConfig));
        var manifest = new ImageManifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = layers };
        directory.SetManifest(await directory.WriteBlobAsync(MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest)), tag);
        return $"{ImageSource.LayoutPrefix}{layout}:{tag}";
    }

    /// <summary>The tar of everything below <paramref name="directory"/>, dot files included (TarFile skips them as hidden).</summary>
    private static async Task<byte[]> TarOfAsync(string directory)
    {
        using var buffer = new MemoryStream();
        await using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            var all = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 };
            foreach (var path in Directory.EnumerateFileSystemEntries(directory, "*", all).Order(StringComparer.Ordinal))
            {
                await writer.WriteEntryAsync(path, Path.GetRelativePath(directory, path));
            }
        }

        return buffer.ToArray();
    }

    /// <summary>A directory holding <paramref name="files"/> (relative path → content).</summary>
    public static string Layer(string path, params (string Name, string Content)[] files)
    {
        Directory.CreateDirectory(path);
        foreach (var (name, content) in files)
        {
            var file = Path.Combine(path, name);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, content);
        }

        return path;
    }
}
