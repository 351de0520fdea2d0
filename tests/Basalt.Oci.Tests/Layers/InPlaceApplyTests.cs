using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>
/// Applying the upper layers onto a kept tree of the lower ones gives exactly the tree a full unpack of all of them
/// gives (content, modes, links, whiteouts, opaque directories, and the times of directories the upper layers only
/// write into).
/// </summary>
public sealed class InPlaceApplyTests
{
    private static readonly LayerApplyOptions Options = new() { Privileged = false };

    // Every directory is named by a layer: one made only implicitly (no tar entry) gets the time of the unpack that
    // made it, in a full unpack as much as here.
    private static async Task AssertSameAsFullUnpack(TempDirectory temp, int lower, params byte[][] layers)
    {
        var blobs = layers.Select((tar, i) => LayerFiles.Write(temp, $"layer{i}.tar", tar, i % 2 == 0 ? LayerCompression.Gzip : LayerCompression.None)).ToList();
        var full = temp.Combine("full");
        await new LayerApplier().ApplyAsync(full, blobs, Options);
        var kept = temp.Combine("kept");
        await new LayerApplier().ApplyAsync(kept, blobs.Take(lower).ToList(), Options);
        // Time passes between the unpack of the kept tree and the upgrade that builds on it.
        await Task.Delay(TimeSpan.FromMilliseconds(1100));

        var result = await new LayerApplier().ApplyInPlaceAsync(kept, blobs.Skip(lower).ToList(), Options);

        Assert.Equal(layers.Length - lower, result.DiffIds.Count);
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(full), TreeSnapshot.Capture(kept), new TreeCompareOptions { IgnoreOwnership = true });
    }

    [Fact]
    public async Task A_small_layer_that_adds_a_file_leaves_the_directories_it_writes_into_with_their_lower_times()
    {
        using var temp = new TempDirectory("inplace-add");
        await AssertSameAsFullUnpack(temp, 1,
            new TarBuilder().Directory("etc").File("etc/hostname", "h").Directory("usr").Directory("usr/bin").File("usr/bin/tool", "t").ToArray(),
            new TarBuilder().File("etc/basalt-marker", "v2").ToArray());
    }

    [Fact]
    public async Task Whiteouts_and_opaque_directories_remove_what_the_kept_tree_holds()
    {
        using var temp = new TempDirectory("inplace-wh");
        await AssertSameAsFullUnpack(temp, 1,
            new TarBuilder().Directory("a").File("a/f1", "1").File("a/f2", "2").Directory("d").File("d/old", "o").Directory("d/sub").File("d/sub/older", "o")
                .Directory("gone").File("gone/x", "x").File("keep", "k").ToArray(),
            new TarBuilder().File("a/.wh.f1", string.Empty).Directory("d").File("d/.wh..wh..opq", string.Empty).File("d/new", "n")
                .File(".wh.gone", string.Empty).ToArray());
    }

    [Fact]
    public async Task Several_upper_layers_replace_files_links_and_directories_of_the_kept_tree()
    {
        using var temp = new TempDirectory("inplace-many");
        await AssertSameAsFullUnpack(temp, 2,
            new TarBuilder().Directory("bin").File("bin/sh", "shell").Symlink("bin/link", "sh").Directory("lib").File("lib/x", "x").ToArray(),
            new TarBuilder().File("lib/y", "y").HardLink("lib/y2", "lib/y").ToArray(),
            new TarBuilder().File("bin/link", "now a file").Symlink("lib", "bin")
                .Directory("usr").Directory("usr/new").Directory("usr/new/deep").File("usr/new/deep/file", "d").ToArray(),
            new TarBuilder().File("bin/.wh.sh", string.Empty).File("usr/new/.wh.deep", string.Empty).ToArray());
    }

    [Fact]
    public async Task A_tree_that_is_not_a_directory_is_refused()
    {
        using var temp = new TempDirectory("inplace-missing");
        var blob = LayerFiles.Write(temp, "layer.tar", new TarBuilder().File("f", "f").ToArray());

        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => new LayerApplier().ApplyInPlaceAsync(temp.Combine("absent"), [blob], Options));
    }
}
