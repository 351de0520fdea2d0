using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using Basalt.Oci.Layout;
using Basalt.Oci.Model;

namespace Basalt.Oci.Tests.Layout;

/// <summary>Small images and archives built by the tests themselves.</summary>
internal static class LayoutFixtures
{
    public static byte[] LayerTar(params (string Name, string Content)[] files)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
            }
        }

        return buffer.ToArray();
    }

    public static byte[] ConfigJson(params Digest[] diffIds) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new ImageConfig { Architecture = "amd64", OS = "linux", RootFs = new RootFs { DiffIds = diffIds } },
            OciJsonContext.Default.ImageConfig);

    /// <summary>Writes a one-layer image into <paramref name="layout"/> and returns its manifest descriptor.</summary>
    public static async Task<Descriptor> WriteImageAsync(OciLayoutDirectory layout, string tag, string content)
    {
        var layer = LayerTar(("hello.txt", content));
        var layerDescriptor = await layout.WriteBlobAsync(MediaTypes.OciLayer, layer);
        var configDescriptor = await layout.WriteBlobAsync(MediaTypes.OciConfig, ConfigJson(layerDescriptor.Digest));
        var manifest = new ImageManifest { MediaType = MediaTypes.OciManifest, Config = configDescriptor, Layers = [layerDescriptor] };
        var manifestDescriptor = await layout.WriteBlobAsync(MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest));
        layout.SetManifest(manifestDescriptor, tag);
        return manifestDescriptor;
    }

    public static void WriteTar(string path, params (string Name, byte[]? Content, string? LinkTarget)[] entries)
    {
        using var file = System.IO.File.Create(path);
        using var writer = new TarWriter(file, TarEntryFormat.Pax);
        foreach (var (name, content, link) in entries)
        {
            if (link is not null)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = link });
            }
            else
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content ?? []) });
            }
        }
    }

    public static (string Name, byte[]? Content, string? LinkTarget) File(string name, byte[] content) => (name, content, null);

    public static (string Name, byte[]? Content, string? LinkTarget) File(string name, string content) => (name, Encoding.UTF8.GetBytes(content), null);

    public static (string Name, byte[]? Content, string? LinkTarget) Link(string name, string target) => (name, null, target);

    public static byte[] ReadAll(Stream stream)
    {
        using (stream)
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }
}
