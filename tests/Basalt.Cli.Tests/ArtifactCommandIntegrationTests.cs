using Basalt.Agent.Install;
using Basalt.Agent.Slots;
using Basalt.Build.Artifacts;
using Basalt.Cli;
using Basalt.Disk.Layout;
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

    [Fact]
    public async Task Build_raw_from_an_image_records_its_name_and_digest_in_every_slot()
    {
        var root = Tree("ID=basalt-test\n");
        var layout = _temp.Combine("layout");
        var cache = _temp.Combine("cache");
        var saved = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "image", "save", "dir:" + root, "--oci-layout", layout, "--tag", "v1", "--cache-dir", cache, "--output", "json");
        Assert.True(saved.ExitCode == 0, saved.Stderr);
        using var savedJson = System.Text.Json.JsonDocument.Parse(saved.Stdout);
        var digest = savedJson.RootElement.GetProperty("digest").GetString();
        var disk = _temp.Combine("disk.raw");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", $"oci-layout:{layout}:v1", "-o", disk, "--cache-dir", cache);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var slots = await SlotsOnStateAsync(disk);
        Assert.Equal(SlotNames.All, slots.Slots.Select(slot => slot.Slot));
        Assert.All(slots.Slots, slot =>
        {
            Assert.Equal($"oci-layout:{layout}:v1", slot.ImageReference);
            Assert.Equal(digest, slot.Digest);
        });
        // Nothing of the build is left beside the disk.
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path, ".disk.raw*"));
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
