using System.Security.Cryptography;
using Basalt.Build.Artifacts;
using Basalt.Build.Tests.Artifacts;
using Basalt.Build.Vm;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Vm;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class VmLauncherIntegrationTests : IDisposable
{
    private readonly TempDirectory _temp = new("vm-launch");
    private readonly ToolRunner _runner = new();

    public VmLauncherIntegrationTests()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("grub-mkimage", "grub-common");
        Requires.Tool("qemu-img", "qemu-utils");
        Requires.Tool("qemu-io", "qemu-utils");
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_cloud_config_for_a_raw_disk_lands_on_the_overlays_cos_oem_and_the_artifact_is_untouched()
    {
        var disk = _temp.Combine("disk.raw");
        await new DiskArtifactBuilder(_runner).BuildAsync(new DiskArtifactOptions { RootDirectory = ArtifactTestTrees.Create(_temp.Path), OutputPath = disk });
        var config = _temp.Combine("vm.yaml");
        await File.WriteAllTextAsync(config, "#cloud-config\nhostname: from-basalt-vm\n");
        var before = await HashAsync(disk);
        var plan = VmLaunchPlanner.Plan(new VmLaunchOptions { ArtifactPath = disk, WorkDirectory = _temp.Combine("work"), CloudConfigPath = config }, () => null);

        await new VmLauncher(_runner).PrepareAsync(plan);

        Assert.Equal(before, await HashAsync(disk));
        Assert.Null(await OfflineExt4Partition.Open(_runner, disk, KairosLayout.OemLabel).ReadFileAsync("/" + VmLaunchOptions.CloudConfigName));
        // What the guest sees: the overlay flattened.
        var seen = _temp.Combine("seen.raw");
        await _runner.RunAsync(new ToolInvocation("qemu-img", ["convert", "-O", "raw", plan.PreparedDisks[0].Path, seen]));
        var oem = OfflineExt4Partition.Open(_runner, seen, KairosLayout.OemLabel);
        Assert.Equal("#cloud-config\nhostname: from-basalt-vm\n", System.Text.Encoding.UTF8.GetString((await oem.ReadFileAsync("/" + VmLaunchOptions.CloudConfigName))!));
        Assert.NotNull(await oem.ReadFileAsync("/grubenv"));
        Assert.True(File.Exists(plan.VarsPath));
    }

    private static async Task<string> HashAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexString(await SHA256.HashDataAsync(stream));
    }
}
