using System.Net;
using Basalt.Agent.Install;
using Basalt.Agent.Slots;
using Basalt.Boot.CommandLine;
using Basalt.Boot.Mounting;
using Basalt.Build.Artifacts;
using Basalt.Build.Netboot;
using Basalt.Cli;
using Basalt.Disk.Devices;
using Basalt.Disk.Layout;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class ArtifactCommandIntegrationTests : IDisposable
{
    private readonly TempDirectory _temp = new("cli-artifacts-int");

    public ArtifactCommandIntegrationTests()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("grub-mkimage", "grub-common");
    }

    public void Dispose() => _temp.Dispose();

    private string Tree(string osRelease)
    {
        var root = _temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "boot", "vmlinuz"), "not a real kernel\n");
        File.WriteAllText(Path.Combine(root, "boot", "initrd"), "not a real initramfs\n");
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), osRelease);
        return root;
    }

    private static async Task<SlotTable> SlotsOnStateAsync(string disk)
    {
        var state = OfflineExt4Partition.Open(new ToolRunner(), disk, KairosLayout.StateLabel);
        var bytes = await state.ReadFileAsync(InstallSlots.StateTarget);
        Assert.True(bytes is not null, $"the disk has no {InstallSlots.StateTarget} on COS_STATE");
        var copy = Path.Combine(Path.GetDirectoryName(disk)!, "slots.json");
        await File.WriteAllBytesAsync(copy, bytes);
        return new SlotStore(copy).Read();
    }

    private static void AssertEverySlotHolds(SlotTable slots, string reference, string digest)
    {
        Assert.Equal(SlotNames.All, slots.Slots.Select(slot => slot.Slot));
        Assert.All(slots.Slots, slot =>
        {
            Assert.Equal(reference, slot.ImageReference);
            Assert.Equal(digest, slot.Digest);
        });
    }

    /// <summary>`basalt build KIND IMAGE -o OUTPUT` from the saved image v1, which must succeed: its reference, digest and cache.</summary>
    private async Task<(string Reference, string Digest, string Cache)> BuildFromSavedImageAsync(string kind, string output, params string[] options)
    {
        var cache = _temp.Combine("cache");
        var (reference, digest) = await SavedImageAsync(cache);
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), ["build", kind, reference, "-o", output, "--cache-dir", cache, .. options]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return (reference, digest, cache);
    }

    /// <summary>The tree saved as image v1 in an OCI layout (its blobs in <paramref name="cache"/>): its reference and digest.</summary>
    private async Task<(string Reference, string Digest)> SavedImageAsync(string cache)
    {
        var root = Tree("ID=basalt-test\n");
        var layout = _temp.Combine("layout");
        var saved = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "image", "save", "dir:" + root, "--oci-layout", layout, "--tag", "v1", "--cache-dir", cache, "--output", "json");
        Assert.True(saved.ExitCode == 0, saved.Stderr);
        using var savedJson = System.Text.Json.JsonDocument.Parse(saved.Stdout);
        return ($"oci-layout:{layout}:v1", savedJson.RootElement.GetProperty("digest").GetString()!);
    }

    [Fact]
    public async Task Build_raw_from_an_image_records_its_name_and_digest_in_every_slot()
    {
        var disk = _temp.Combine("disk.raw");

        var (reference, digest, _) = await BuildFromSavedImageAsync("raw", disk);

        var slots = await SlotsOnStateAsync(disk);
        AssertEverySlotHolds(slots, reference, digest);
        // Without --seed-blobs the node's blob store starts empty; nothing of the build is left beside the disk.
        var persistent = OfflineExt4Partition.Open(new ToolRunner(), disk, KairosLayout.PersistentLabel);
        Assert.False(await persistent.ExistsAsync("/.basalt/blobs"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path, ".disk.raw*"));
    }

    [Fact]
    public async Task Build_raw_with_seed_blobs_puts_the_image_into_the_nodes_blob_store_under_its_name()
    {
        var disk = _temp.Combine("disk.raw");

        var (reference, digest, cache) = await BuildFromSavedImageAsync("raw", disk, "--seed-blobs");

        await AssertSeededAsync(disk, cache, reference, digest);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path, ".disk.raw*"));
    }

    [Fact]
    public async Task Install_from_an_image_with_seed_blobs_puts_the_image_into_the_new_nodes_blob_store()
    {
        var cache = _temp.Combine("cache");
        var (reference, digest) = await SavedImageAsync(cache);
        var disk = _temp.Combine("target.raw");
        await using (var file = File.Create(disk))
        {
            file.SetLength(1536L << 20);
        }

        await using (var loop = await LoopDevice.AttachAsync(new ToolRunner(), disk))
        {
            var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "install", "--device", loop.Device, "--source", reference, "--seed-blobs", "--cache-dir", cache, "--work-dir", _temp.Combine("work"));
            Assert.True(run.ExitCode == 0, run.Stderr);
            await loop.DetachAsync();
        }

        await AssertSeededAsync(disk, cache, reference, digest);
        Assert.Equal(digest, (await SlotsOnStateAsync(disk)).Active?.Digest);
    }

    /// <summary>
    /// Every blob of the image (manifest, config, layers) lies byte for byte in the node's blob store on COS_PERSISTENT
    /// of <paramref name="disk"/>, under the image's name, where the node's upgrades look for them
    /// (NodePaths.BlobStore with COS_PERSISTENT at /usr/local).
    /// </summary>
    private async Task AssertSeededAsync(string disk, string cache, string reference, string digest)
    {
        var host = new BlobStore(cache);
        var manifest = Oci.Model.Digest.Parse(digest);
        var blobs = new List<Oci.Model.Digest> { manifest };
        using (var document = System.Text.Json.JsonDocument.Parse(host.ReadAllBytes(manifest)))
        {
            blobs.Add(Oci.Model.Digest.Parse(document.RootElement.GetProperty("config").GetProperty("digest").GetString()!));
            blobs.AddRange(document.RootElement.GetProperty("layers").EnumerateArray().Select(layer => Oci.Model.Digest.Parse(layer.GetProperty("digest").GetString()!)));
        }

        var persistent = OfflineExt4Partition.Open(new ToolRunner(), disk, KairosLayout.PersistentLabel);
        foreach (var blob in blobs)
        {
            Assert.Equal(host.ReadAllBytes(blob), await persistent.ReadFileAsync($"/.basalt/blobs/blobs/{blob.Algorithm}/{blob.Hex}"));
        }

        // The image's name, as a store names it (the same file a pull on the node would write).
        var naming = new BlobStore(_temp.Combine("naming"));
        naming.SetReference(reference, manifest);
        var nameFile = Assert.Single(Directory.GetFiles(_temp.Combine("naming", "refs")));
        Assert.Equal(File.ReadAllBytes(nameFile), await persistent.ReadFileAsync("/.basalt/blobs/refs/" + Path.GetFileName(nameFile)));
    }

    [Fact]
    public async Task Build_iso_from_an_image_names_it_by_digest_beside_the_squashfs_for_the_live_install()
    {
        Requires.Tool("xorriso", "xorriso");
        var iso = _temp.Combine("basalt.iso");

        var (reference, digest, _) = await BuildFromSavedImageAsync("iso", iso);

        // Where the live install looks for it: beside the squashfs the live system runs from.
        var extracted = _temp.Combine("medium-slots.json");
        var target = InstallSlots.BesideSquashfs(IsoArtifactPlan.SquashfsTarget);
        var extract = await new ToolRunner().RunAsync(new ToolInvocation("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", target, extracted]) { Package = "xorriso" });
        Assert.True(File.Exists(extracted), $"the ISO has no {target}:\n{extract.StandardError}");
        var slots = new SlotStore(extracted).Read();
        AssertEverySlotHolds(slots, reference, digest);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path, ".basalt.iso*"));
    }

    [Fact]
    public async Task Build_netboot_from_an_image_serves_its_name_and_digest_where_the_node_downloads_it()
    {
        var directory = _temp.Combine("netboot");

        var (reference, digest, _) = await BuildFromSavedImageAsync("netboot", directory);

        // A node fetches it beside the squashfs its command line names, from the server that serves the directory.
        var squashfsUrl = BootParameters.Parse(NetbootArtifactPlan.CommandLineFor([$"{BootKeys.BasaltMode}=live"], new Uri("http://127.0.0.1:1/"))).LiveUrl!;
        var download = Assert.IsType<DownloadStep>(Assert.Single(BootPlanner.Plan($"{BootKeys.BasaltMode}=live {BootKeys.BasaltLiveUrl}={squashfsUrl}", MountLayout.Default).Steps, step => step.Id == "download-live-slots"));
        await using var server = await NetbootServer.StartAsync(new NetbootServerOptions { Directory = directory, Listen = new IPEndPoint(IPAddress.Loopback, 0) }, _ => { });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        var served = _temp.Combine("served-slots.json");
        await File.WriteAllBytesAsync(served, await http.GetByteArrayAsync(download.Url.PathAndQuery.TrimStart('/')));
        var slots = new SlotStore(served).Read();
        AssertEverySlotHolds(slots, reference, digest);
        // The installer reads it where the download puts it: beside the downloaded squashfs.
        Assert.Equal(InstallSlots.BesideSquashfs(BootPlanner.DownloadedSquashfs), download.Destination);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path, ".netboot*"));
    }

    [Fact]
    public async Task Seed_blobs_needs_an_image()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", "--root", Tree("ID=basalt-test\n"), "-o", _temp.Combine("disk.raw"), "--seed-blobs");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--seed-blobs needs an IMAGE", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.Combine("disk.raw")));
    }

    [Fact]
    public async Task Build_raw_bakes_the_cloud_config_into_cos_oem_where_debugfs_reads_it_back()
    {
        var root = Tree("ID=basalt-test\nBASALT_IMAGE_REF=registry.example/basalt/os:v7\n");
        var config = _temp.Combine("node.yaml");
        const string text = "#cloud-config\nhostname: baked\nusers:\n  - name: kairos\n    passwd: kairos\n";
        await File.WriteAllTextAsync(config, text);
        var disk = _temp.Combine("disk.raw");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", "--root", root, "-o", disk, "--cloud-config", config);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("(raw,", run.Stdout);
        var oem = OfflineExt4Partition.Open(new ToolRunner(), disk, KairosLayout.OemLabel);
        Assert.Equal(text, System.Text.Encoding.UTF8.GetString((await oem.ReadFileAsync("/" + DiskArtifactPlan.CloudConfigName))!));
        // A tree carries no digest; its slots are named as its os-release names the image it was made for.
        Assert.All((await SlotsOnStateAsync(disk)).Slots, slot =>
        {
            Assert.Equal("registry.example/basalt/os:v7", slot.ImageReference);
            Assert.Null(slot.Digest);
        });
    }
}
