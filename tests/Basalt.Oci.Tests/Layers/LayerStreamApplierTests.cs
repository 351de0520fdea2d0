using System.Text;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>
/// Streaming layers into a target that is not a directory gives the tree the directory unpack gives: the same entries,
/// kinds, contents and link targets, whatever the layers replace, white out or make opaque.
/// </summary>
public sealed class LayerStreamApplierTests
{
    private static async Task<MemoryTarget> AssertSameAsDirectoryUnpack(TempDirectory temp, params byte[][] layers)
    {
        var blobs = layers.Select((tar, i) => LayerFiles.Write(temp, $"layer{i}.tar", tar, i % 2 == 0 ? LayerCompression.Gzip : LayerCompression.None)).ToList();
        var directory = temp.Combine("rootfs");
        var unpacked = await new LayerApplier().ApplyAsync(directory, blobs, new LayerApplyOptions { Privileged = false });
        var target = new MemoryTarget();

        var streamed = await new LayerStreamApplier().ApplyAsync(blobs, target);

        Assert.Equal(unpacked.DiffIds, streamed.DiffIds);
        Assert.Equal(unpacked.EntriesApplied, streamed.EntriesApplied);
        Assert.Equal(Describe(directory), target.Entries);
        return target;
    }

    /// <summary>Every entry below <paramref name="root"/> (symbolic links not followed) as the memory target describes it.</summary>
    private static SortedDictionary<string, string> Describe(string root, SortedDictionary<string, string>? entries = null, string? directory = null)
    {
        entries ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFileSystemEntries(directory ?? root))
        {
            var status = Posix.GetStatus(path);
            entries[Path.GetRelativePath(root, path)] = status.Kind switch
            {
                UnixFileKind.Directory => "dir",
                UnixFileKind.SymbolicLink => "link:" + new FileInfo(path).LinkTarget,
                UnixFileKind.Fifo => "fifo",
                _ => "file:" + File.ReadAllText(path),
            };
            if (status.Kind == UnixFileKind.Directory)
            {
                Describe(root, entries, path);
            }
        }

        return entries;
    }

    [Fact]
    public async Task Whiteouts_remove_lower_files_directories_and_symlinks_only()
    {
        using var temp = new TempDirectory("stream-wh");
        await AssertSameAsDirectoryUnpack(temp,
            new TarBuilder().File("a/f1", "1").File("a/f2", "2").File("d/x/y", "y").File("d/z", "z").Symlink("link", "a/f2").File("keep", "k").ToArray(),
            new TarBuilder().File("a/.wh.f1", string.Empty).File(".wh.d", string.Empty).File(".wh.link", string.Empty).File(".wh.absent", string.Empty).ToArray());
    }

    [Fact]
    public async Task Opaque_directories_hide_lower_content_and_keep_this_layers_before_and_after_the_marker()
    {
        using var temp = new TempDirectory("stream-opq");
        await AssertSameAsDirectoryUnpack(temp,
            new TarBuilder().File("d/old", "o").File("d/sub/older", "o").File("e/old", "o").File("other", "x").ToArray(),
            new TarBuilder().File("d/new", "n").File("d/.wh..wh..opq", string.Empty).Directory("e").File("e/.wh..wh..opq", string.Empty).File("e/new", "n")
                .File("e/sub/deep", "d").ToArray());
    }

    [Fact]
    public async Task A_whiteout_does_not_hide_what_its_own_layer_adds_and_a_re_added_entry_replaces_the_lower_one()
    {
        using var temp = new TempDirectory("stream-same-layer");
        await AssertSameAsDirectoryUnpack(temp,
            new TarBuilder().File("x", "lower").File("dir/a", "a").ToArray(),
            new TarBuilder().File(".wh.x", string.Empty).File("x", "upper").File("dir/b", "b").File(".wh.dir", string.Empty).ToArray());
    }

    [Fact]
    public async Task Later_layers_replace_files_links_and_directories_and_hard_links_share_content()
    {
        using var temp = new TempDirectory("stream-replace");
        var target = await AssertSameAsDirectoryUnpack(temp,
            new TarBuilder().Directory("bin").File("bin/sh", "shell").Symlink("bin/link", "sh").Directory("lib").File("lib/x", "x").Fifo("pipe").ToArray(),
            new TarBuilder().File("lib/y", "y").HardLink("lib/y2", "lib/y").File("pipe", "now a file").ToArray(),
            new TarBuilder().File("bin/link", "now a file").Symlink("lib", "bin").Directory("usr/new/deep").File("usr/new/deep/file", "d").ToArray(),
            new TarBuilder().File("bin/.wh.sh", string.Empty).File("usr/new/.wh.deep", string.Empty).ToArray());
        Assert.Equal(["lib/y2 -> lib/y"], target.HardLinks);
    }

    [Fact]
    public async Task A_hard_link_to_nothing_or_to_a_directory_and_a_name_climbing_out_are_refused()
    {
        using var temp = new TempDirectory("stream-hostile");
        var missing = LayerFiles.Write(temp, "missing.tar", new TarBuilder().HardLink("a", "nowhere").ToArray());
        var directory = LayerFiles.Write(temp, "dir.tar", new TarBuilder().Directory("d").HardLink("a", "d").ToArray());
        var climbing = LayerFiles.Write(temp, "climb.tar", new TarBuilder().File("../escape", "x").ToArray());

        await Assert.ThrowsAsync<UnsafeLayerEntryException>(() => new LayerStreamApplier().ApplyAsync([missing], new MemoryTarget()));
        await Assert.ThrowsAsync<UnsafeLayerEntryException>(() => new LayerStreamApplier().ApplyAsync([directory], new MemoryTarget()));
        await Assert.ThrowsAsync<UnsafeLayerEntryException>(() => new LayerStreamApplier().ApplyAsync([climbing], new MemoryTarget()));
    }

    [Fact]
    public async Task A_layer_whose_content_is_not_its_diff_id_is_refused()
    {
        using var temp = new TempDirectory("stream-diffid");
        var tar = new TarBuilder().File("f", "f").ToArray();
        var blob = LayerFiles.Write(temp, "layer.tar", tar, diffId: Digest.Sha256("something else"u8.ToArray()));

        await Assert.ThrowsAsync<Basalt.Oci.DigestMismatchException>(() => new LayerStreamApplier().ApplyAsync([blob], new MemoryTarget()));
    }

    /// <summary>A target that keeps entries as text: "dir", "file:CONTENT", "link:TARGET", "fifo".</summary>
    private sealed class MemoryTarget : ILayerEntryTarget
    {
        public SortedDictionary<string, string> Entries { get; } = new(StringComparer.Ordinal);

        public List<string> HardLinks { get; } = [];

        public bool? IsDirectory(string path) => path.Length == 0 ? true : Entries.TryGetValue(path, out var value) ? value == "dir" : null;

        public IReadOnlyList<string>? ListDirectory(string path) =>
            IsDirectory(path) == true
                ? [.. Entries.Keys.Where(key => Parent(key) == path).Select(key => key[(path.Length == 0 ? 0 : path.Length + 1)..])]
                : null;

        public void AddDirectory(string path, TarEntryHeader entry)
        {
            if (IsDirectory(path) != true)
            {
                Put(path, "dir");
            }
        }

        public async Task AddFileAsync(string path, TarEntryHeader entry, Stream content, CancellationToken cancellationToken)
        {
            using var reader = new StreamReader(content, Encoding.UTF8, leaveOpen: true);
            Put(path, "file:" + await reader.ReadToEndAsync(cancellationToken));
        }

        public void AddSymbolicLink(string path, TarEntryHeader entry) => Put(path, "link:" + entry.LinkName);

        public void AddHardLink(string path, string existingPath)
        {
            Put(path, Entries[existingPath]);
            HardLinks.Add($"{path} -> {existingPath}");
        }

        public void AddSpecial(string path, TarEntryHeader entry) => Put(path, "fifo");

        public bool Remove(string path)
        {
            var below = path + "/";
            foreach (var key in Entries.Keys.Where(key => key.StartsWith(below, StringComparison.Ordinal)).ToList())
            {
                Entries.Remove(key);
            }

            return Entries.Remove(path);
        }

        private void Put(string path, string value)
        {
            Remove(path);
            for (var parent = Parent(path); parent.Length > 0 && IsDirectory(parent) != true; parent = Parent(parent))
            {
                Entries[parent] = "dir";
            }

            Entries[path] = value;
        }

        private static string Parent(string path) => path.LastIndexOf('/') is var slash and >= 0 ? path[..slash] : string.Empty;
    }
}
