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

    [Fact]
    public async Task Build_raw_bakes_the_cloud_config_into_cos_oem_where_debugfs_reads_it_back()
    {
        var root = _temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        await File.WriteAllTextAsync(Path.Combine(root, "boot", "vmlinuz"), "not a real kernel\n");
        await File.WriteAllTextAsync(Path.Combine(root, "boot", "initrd"), "not a real initramfs\n");
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "os-release"), "ID=basalt-test\n");
        var config = _temp.Combine("node.yaml");
        const string text = "#cloud-config\nhostname: baked\nusers:\n  - name: kairos\n    passwd: kairos\n";
        await File.WriteAllTextAsync(config, text);
        var disk = _temp.Combine("disk.raw");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", "--root", root, "-o", disk, "--cloud-config", config);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("(raw,", run.Stdout);
        var oem = OfflineExt4Partition.Open(new ToolRunner(), disk, KairosLayout.OemLabel);
        Assert.Equal(text, System.Text.Encoding.UTF8.GetString((await oem.ReadFileAsync("/" + DiskArtifactPlan.CloudConfigName))!));
    }
}
