using System.Text.Json;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>Layers umoci repacks (including its whiteouts) unpack with Basalt exactly as umoci unpacks them.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class UmociInteropTests
{
    private static readonly ToolRunner Runner = new();

    private static Task Umoci(params string[] arguments) =>
        Runner.RunAsync(new ToolInvocation("umoci", arguments) { Package = "umoci" });

    [Fact]
    public async Task Two_umoci_layers_with_whiteouts_unpack_like_umoci()
    {
        Requires.Root();
        Requires.Tool("umoci", "umoci");
        using var temp = new TempDirectory("umoci");
        var layout = temp.Combine("layout");
        var bundle = temp.Combine("bundle");
        await Umoci("init", "--layout", layout);
        await Umoci("new", "--image", $"{layout}:t");
        await Umoci("unpack", "--image", $"{layout}:t", bundle);

        var rootfs = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "etc/conf.d"));
        File.WriteAllText(Path.Combine(rootfs, "etc/conf.d/a"), "a");
        File.WriteAllText(Path.Combine(rootfs, "etc/conf.d/b"), "b");
        Directory.CreateDirectory(Path.Combine(rootfs, "var/cache/old"));
        File.WriteAllText(Path.Combine(rootfs, "var/cache/old/x"), "x");
        var suid = Path.Combine(rootfs, "su");
        File.WriteAllText(suid, "su");
        Posix.ChangeOwner(suid, 0, 42);
        File.SetUnixFileMode(suid, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.SetUser);
        Posix.SetExtendedAttribute(suid, "security.capability", [0x01, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
        File.CreateSymbolicLink(Path.Combine(rootfs, "lib"), "usr/lib");
        Directory.CreateDirectory(Path.Combine(rootfs, "usr/lib"));
        Posix.CreateHardLink(Path.Combine(rootfs, "etc/conf.d/a"), Path.Combine(rootfs, "usr/lib/a-link"));
        Posix.CreateDevice(Path.Combine(rootfs, "null"), UnixFileKind.CharacterDevice, UnixFileMode.UserRead | UnixFileMode.UserWrite, 1, 3);
        await Umoci("repack", "--image", $"{layout}:t", bundle);

        // umoci diffs against the image a bundle was unpacked from: unpack again for a second layer
        var bundle2 = temp.Combine("bundle2");
        await Umoci("unpack", "--image", $"{layout}:t", bundle2);
        rootfs = Path.Combine(bundle2, "rootfs");
        File.Delete(Path.Combine(rootfs, "etc/conf.d/b"));
        Directory.Delete(Path.Combine(rootfs, "var/cache/old"), recursive: true);
        File.WriteAllText(Path.Combine(rootfs, "etc/conf.d/c"), "c");
        await Umoci("repack", "--image", $"{layout}:t", bundle2);

        var expected = temp.Combine("umoci-unpacked");
        await Umoci("unpack", "--image", $"{layout}:t", expected);

        var layers = ReadLayers(layout);
        Assert.Equal(2, layers.Count);
        var actual = temp.Combine("basalt-unpacked");
        await new LayerApplier().ApplyAsync(actual, layers);

        // umoci's rootfs directory itself is created by umoci, not by a layer entry
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(Path.Combine(expected, "rootfs")), TreeSnapshot.Capture(actual));
    }

    private static List<LayerBlob> ReadLayers(string layout)
    {
        static string BlobPath(string layout, string digest) => Path.Combine(layout, "blobs", digest.Replace(':', '/'));
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "index.json")));
        var manifestDigest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(BlobPath(layout, manifestDigest)));
        var configDigest = manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!;
        using var config = JsonDocument.Parse(File.ReadAllBytes(BlobPath(layout, configDigest)));
        var diffIds = config.RootElement.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => Digest.Parse(d.GetString()!)).ToList();
        return manifest.RootElement.GetProperty("layers").EnumerateArray()
            .Select((layer, i) => new LayerBlob(BlobPath(layout, layer.GetProperty("digest").GetString()!), layer.GetProperty("mediaType").GetString()!, diffIds[i]))
            .ToList();
    }
}
