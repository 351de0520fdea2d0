using Basalt.Oci.Layers;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

public sealed class WhiteoutTests
{
    private static async Task<string> Apply(TempDirectory temp, params byte[][] layers)
    {
        var blobs = layers.Select((tar, i) => LayerFiles.Write(temp, $"layer{i}.tar", tar)).ToList();
        var target = temp.Combine("rootfs");
        await new LayerApplier().ApplyAsync(target, blobs, new LayerApplyOptions { Privileged = false });
        Assert.Empty(Directory.EnumerateFileSystemEntries(target, ".wh.*", SearchOption.AllDirectories));
        return target;
    }

    private static string[] Tree(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p))
            .Order(StringComparer.Ordinal)
            .ToArray();

    [Fact]
    public async Task File_whiteout_removes_the_lower_file_only()
    {
        using var temp = new TempDirectory("wh-file");
        var target = await Apply(temp,
            new TarBuilder().File("a/f1", "1").File("a/f2", "2").ToArray(),
            new TarBuilder().File("a/.wh.f1", string.Empty).ToArray());
        Assert.Equal(["a", "a/f2"], Tree(target));
    }

    [Fact]
    public async Task Directory_whiteout_removes_the_whole_lower_directory()
    {
        using var temp = new TempDirectory("wh-dir");
        var target = await Apply(temp,
            new TarBuilder().File("d/x/y", "y").File("d/z", "z").File("keep", "k").ToArray(),
            new TarBuilder().File(".wh.d", string.Empty).ToArray());
        Assert.Equal(["keep"], Tree(target));
    }

    [Fact]
    public async Task Opaque_whiteout_empties_the_lower_directory_but_keeps_this_layers_additions_before_it()
    {
        using var temp = new TempDirectory("wh-opq-before");
        var target = await Apply(temp,
            new TarBuilder().File("d/old", "o").File("d/sub/older", "o").File("other", "x").ToArray(),
            new TarBuilder().File("d/new", "n").File("d/.wh..wh..opq", string.Empty).ToArray());
        Assert.Equal(["d", "d/new", "other"], Tree(target));
    }

    [Fact]
    public async Task Opaque_whiteout_first_then_additions()
    {
        using var temp = new TempDirectory("wh-opq-after");
        var target = await Apply(temp,
            new TarBuilder().File("d/old", "o").ToArray(),
            new TarBuilder().Directory("d").File("d/.wh..wh..opq", string.Empty).File("d/new", "n").ToArray());
        Assert.Equal(["d", "d/new"], Tree(target));
    }

    [Fact]
    public async Task Whiteout_does_not_hide_what_the_same_layer_adds()
    {
        using var temp = new TempDirectory("wh-same");
        var target = await Apply(temp,
            new TarBuilder().File("d/f", "lower").File("e/lower-child", "l").ToArray(),
            new TarBuilder().File("d/f", "upper").File("d/.wh.f", string.Empty)
                .Directory("e").File("e/upper-child", "u").File(".wh.e", string.Empty).ToArray());
        Assert.Equal("upper", File.ReadAllText(Path.Combine(target, "d/f")));
        Assert.Equal(["d", "d/f", "e", "e/upper-child"], Tree(target));
    }

    [Fact]
    public async Task Whiteout_before_re_adding_in_the_same_layer_replaces_the_lower_entry()
    {
        using var temp = new TempDirectory("wh-readd");
        var target = await Apply(temp,
            new TarBuilder().File("d/a", "a").File("d/b", "b").ToArray(),
            new TarBuilder().File(".wh.d", string.Empty).File("d/c", "c").ToArray());
        Assert.Equal(["d", "d/c"], Tree(target));
    }

    [Fact]
    public async Task Whiteout_of_something_absent_changes_nothing()
    {
        using var temp = new TempDirectory("wh-absent");
        var target = await Apply(temp,
            new TarBuilder().File("a", "a").ToArray(),
            new TarBuilder().File(".wh.nothing", string.Empty).File("missing/.wh.x", string.Empty).ToArray());
        Assert.Equal(["a"], Tree(target));
    }

    [Fact]
    public async Task Whiteout_in_the_first_layer_leaves_no_marker()
    {
        using var temp = new TempDirectory("wh-first");
        var target = await Apply(temp, new TarBuilder().File("etc/.wh.gone", string.Empty).File("etc/here", "h").ToArray());
        Assert.Equal(["etc", "etc/here"], Tree(target));
    }

    [Fact]
    public async Task Whiteout_removes_a_lower_symlink_not_its_target()
    {
        using var temp = new TempDirectory("wh-link");
        var target = await Apply(temp,
            new TarBuilder().File("real/file", "r").Symlink("link", "real").ToArray(),
            new TarBuilder().File(".wh.link", string.Empty).ToArray());
        Assert.Equal(["real", "real/file"], Tree(target));
    }

    [Fact]
    public async Task Whiteout_of_dot_dot_is_rejected()
    {
        using var temp = new TempDirectory("wh-dotdot");
        var layer = LayerFiles.Write(temp, "l.tar", new TarBuilder().File("a/.wh..", string.Empty).ToArray());
        await Assert.ThrowsAsync<UnsafeLayerEntryException>(() => new LayerApplier().ApplyAsync(temp.Combine("rootfs"), [layer], new LayerApplyOptions { Privileged = false }));
    }
}
