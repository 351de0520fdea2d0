using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using Basalt.Cli;
using Basalt.Cli.Commands;
using Basalt.Cli.Hosting;
using Basalt.Oci.Store;
using Basalt.Oci.Tests.Images;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

/// <summary>The shipped commands, run in-process against a temporary cache and an in-memory registry.</summary>
public sealed class ImageCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cli");
    private readonly FakeRegistryClient _registry = new();
    private readonly BasaltApp _app;

    public ImageCommandTests()
    {
        _app = new BasaltApp(BasaltApp.DefaultGroups, settings => new CliServices(
            settings,
            () => new BlobStore(settings.CacheDir ?? _temp.Combine("cache")),
            () => _registry));
    }

    public void Dispose() => _temp.Dispose();

    private Task<CliRun> Run(params string[] args) => CliRunner.RunAsync(_app, args);

    private string LayerTar(string name, string content)
    {
        var path = _temp.Combine($"layer-{Guid.NewGuid():N}.tar");
        using var file = File.Create(path);
        using var writer = new TarWriter(file, TarEntryFormat.Pax);
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        return path;
    }

    private async Task<string> SavedLayoutAsync(string tag = "v1")
    {
        var layout = _temp.Combine("layout");
        var run = await Run("image", "save", $"file:{LayerTar("etc/motd", "hello")}", "--oci-layout", layout, "--tag", tag);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains($"to oci-layout:{layout}:{tag}", run.Stdout, StringComparison.Ordinal);
        return layout;
    }

    [Fact]
    public async Task Pull_twice_reports_zero_bytes_the_second_time()
    {
        var layout = await SavedLayoutAsync();

        var cache = _temp.Combine("pull-cache");
        var first = await Run("pull", $"oci-layout:{layout}:v1", "--output", "json", "--cache-dir", cache);
        var second = await Run("pull", $"oci-layout:{layout}:v1", "--output", "json", "--cache-dir", cache);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        using var firstJson = JsonDocument.Parse(first.Stdout);
        using var secondJson = JsonDocument.Parse(second.Stdout);
        Assert.True(firstJson.RootElement.GetProperty("bytesTransferred").GetInt64() > 0);
        Assert.Equal(0, secondJson.RootElement.GetProperty("bytesTransferred").GetInt64());
        Assert.Equal(2, secondJson.RootElement.GetProperty("blobsSkipped").GetInt32());
        Assert.Contains("(already present)", second.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_in_text_mode_prints_a_summary_and_plain_progress_lines()
    {
        var layout = await SavedLayoutAsync();

        var run = await Run("pull", $"oci-layout:{layout}:v1", "--cache-dir", _temp.Combine("other-cache"));

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith($"pulled oci-layout:{layout}:v1\ndigest: sha256:", run.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"^pulling sha256:[0-9a-f]{12} \d", run.Stderr);
    }

    [Fact]
    public async Task Inspect_json_has_manifest_config_layers_and_sizes()
    {
        var layout = await SavedLayoutAsync();

        var run = await Run("image", "inspect", $"oci-layout:{layout}:v1", "-o", "json", "--platform", "linux/amd64");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        Assert.StartsWith("sha256:", root.GetProperty("digest").GetString(), StringComparison.Ordinal);
        Assert.Equal("linux/amd64", root.GetProperty("platform").GetString());
        var layer = Assert.Single(root.GetProperty("layers").EnumerateArray().ToList());
        Assert.True(layer.GetProperty("size").GetInt64() > 0);
        Assert.Equal("linux", root.GetProperty("config").GetProperty("os").GetString());
        Assert.Equal(2, root.GetProperty("manifest").GetProperty("schemaVersion").GetInt32());
        Assert.True(root.GetProperty("size").GetInt64() > layer.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task Inspect_text_lists_layers()
    {
        var layout = await SavedLayoutAsync();

        var run = await Run("image", "inspect", $"oci-layout:{layout}:v1");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Platform:   linux/", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Layers:     1", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_tag_is_an_error_that_lists_the_tags()
    {
        var layout = await SavedLayoutAsync("v1");

        var run = await Run("image", "inspect", $"oci-layout:{layout}:v2");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"error: {layout} has no image tagged 'v2'\nhint: tags present: v1\n", run.Stderr);
    }

    [Fact]
    public async Task Unpack_writes_the_tree()
    {
        var layout = await SavedLayoutAsync();
        var target = _temp.Combine("rootfs");

        var run = await Run("image", "unpack", $"oci-layout:{layout}:v1", target);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal("hello", await File.ReadAllTextAsync(Path.Combine(target, "etc", "motd")));
        Assert.Contains($"into {target}", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a ref!!")]
    [InlineData("ocifile:/tmp/x.tar")]
    public async Task Push_to_something_that_is_not_a_registry_reference_is_a_usage_error(string reference)
    {
        var run = await Run("push", _temp.Path, reference);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("error: ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_label_without_equals_is_a_usage_error()
    {
        var run = await Run("push", _temp.Path, "localhost:5000/a:b", "--label", "novalue");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("label 'novalue' is not KEY=VALUE", run.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("has/slash")]
    [InlineData("-dash")]
    [InlineData("a:b")]
    public async Task Save_refuses_a_tag_it_could_not_read_back(string tag)
    {
        var run = await Run("image", "save", "localhost:5000/a:b", "--oci-layout", _temp.Combine("l"), "--tag", tag);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"'{tag}' is not a valid tag", run.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("l")));
    }

    [Fact]
    public async Task Save_needs_the_layout_option()
    {
        var run = await Run("image", "save", "localhost:5000/a:b");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--oci-layout", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_prints_the_digest_and_the_image_pulls_back()
    {
        var tree = _temp.Combine("tree");
        Directory.CreateDirectory(tree);
        await File.WriteAllTextAsync(Path.Combine(tree, "file"), "content");

        var push = await Run("push", tree, "localhost:5000/edge/os:2.0", "--label", "a=b", "--label", "c=d=e", "-o", "json");

        Assert.True(push.ExitCode == 0, push.Stderr);
        using var json = JsonDocument.Parse(push.Stdout);
        var digest = json.RootElement.GetProperty("digest").GetString();
        var inspect = await Run("image", "inspect", "localhost:5000/edge/os:2.0", "-o", "json", "--cache-dir", _temp.Combine("fresh"));
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        using var inspected = JsonDocument.Parse(inspect.Stdout);
        Assert.Equal(digest, inspected.RootElement.GetProperty("digest").GetString());
        var labels = inspected.RootElement.GetProperty("config").GetProperty("config").GetProperty("Labels");
        Assert.Equal("d=e", labels.GetProperty("c").GetString());
    }

    [Fact]
    public async Task Cache_ls_and_prune()
    {
        var layout = await SavedLayoutAsync();
        Assert.Equal(0, (await Run("pull", $"oci-layout:{layout}:v1")).ExitCode);

        var listed = await Run("cache", "ls", "-o", "json");
        using (var json = JsonDocument.Parse(listed.Stdout))
        {
            var names = json.RootElement.GetProperty("references").EnumerateArray().Select(r => r.GetProperty("name").GetString()).ToList();
            Assert.Contains($"oci-layout:{layout}:v1", names);
            Assert.True(json.RootElement.GetProperty("totalSize").GetInt64() > 0);
        }

        var text = await Run("cache", "ls", "--blobs");
        Assert.Contains($"oci-layout:{layout}:v1", text.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"\d+ images, \d+ blobs, ", text.Stdout);

        var kept = await Run("cache", "prune");
        Assert.Equal(0, kept.ExitCode);
        Assert.StartsWith("removed 0 blobs", kept.Stdout, StringComparison.Ordinal);

        var pruned = await Run("cache", "prune", "--all", "-o", "json");
        using (var json = JsonDocument.Parse(pruned.Stdout))
        {
            Assert.NotEmpty(json.RootElement.GetProperty("removedBlobs").EnumerateArray());
        }

        Assert.EndsWith("0 images, 0 blobs, 0 B\n", (await Run("cache", "ls")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_command_group_is_registered()
    {
        Assert.Contains(BasaltApp.DefaultGroups, g => g is ImageCommands);
        Assert.Contains(BasaltApp.DefaultGroups, g => g is CacheCommands);
    }
}
