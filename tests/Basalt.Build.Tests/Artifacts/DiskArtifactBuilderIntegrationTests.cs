using System.Globalization;
using System.Security.Cryptography;
using Basalt.Boot.Grub;
using Basalt.Build.Artifacts;
using Basalt.Disk;
using Basalt.Disk.Assembly;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Artifacts;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class DiskArtifactBuilderIntegrationTests : IDisposable
{
    private readonly TempDirectory _temp = new("artifact-disk");
    private readonly ToolRunner _runner = new();

    public DiskArtifactBuilderIntegrationTests()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("unsquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mdir", "mtools");
        Requires.Tool("sgdisk", "gdisk");
        Requires.Tool("grub-mkimage", "grub-common");
        Requires.Tool("grub-editenv", "grub-common");
        Requires.Tool("qemu-img", "qemu-utils");
    }

    public void Dispose() => _temp.Dispose();

    private DiskArtifactOptions Options(string root, string name = "disk.raw") => new()
    {
        RootDirectory = root,
        OutputPath = _temp.Combine(name),
    };

    [Fact]
    public async Task A_disk_from_a_tree_has_a_valid_gpt_the_esp_the_images_the_menu_and_grubenv()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var cloudConfig = _temp.Combine("config.yaml");
        await File.WriteAllTextAsync(cloudConfig, "#cloud-config\nhostname: e2e\n");
        var options = Options(root) with { CloudConfigPath = cloudConfig };

        var progress = new RecordingProgress<ImageWriteUpdate>();
        var result = await new DiskArtifactBuilder(_runner, progress: progress).BuildAsync(options);

        Assert.Equal(options.OutputPath, result.OutputPath);
        Assert.Equal(new FileInfo(options.OutputPath).Length, result.DiskBytes);
        // Every image the build writes is reported, each finished once, in the order they are made; the disk's own bytes match its allocation.
        var finished = progress.Updates.Where(update => update.Done).ToList();
        Assert.Equal(["active.img", "passive.img", "recovery.squashfs", Path.GetFileName(options.OutputPath)], finished.Select(update => update.Name));
        Assert.All(finished, update => Assert.True(update.BytesWritten > 0, $"{update.Name} reported no bytes"));
        Assert.Equal(result.AllocatedBytes, finished[^1].BytesWritten);
        Assert.True(finished[0].BytesExpected > 0 && finished[^1].BytesExpected > 0, "the active image and the disk are measured against an expected size");
        // Nothing else is left beside the output: the work directory and temporaries are gone.
        Assert.Equal(["config.yaml", Path.GetFileName(options.OutputPath), "rootfs"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var verify = await Run("sgdisk", "-v", options.OutputPath);
        Assert.Contains("No problems found", verify, StringComparison.Ordinal);
        var table = GptReader.Read(options.OutputPath);
        Assert.Equal([KairosLayout.GrubLabel, KairosLayout.OemLabel, KairosLayout.RecoveryLabel, KairosLayout.StateLabel, KairosLayout.PersistentLabel], table.Partitions.Select(p => p.Name));
        Assert.Equal(PartitionTypes.EfiSystem, table.Partitions[0].TypeGuid);

        // ESP: the loader and the stub, read with mtools at the partition offset.
        var esp = table.FindByName(KairosLayout.GrubLabel)!;
        var mtoolsImage = $"{options.OutputPath}@@{esp.OffsetBytes()}";
        var listing = await Run("mdir", "-i", mtoolsImage, "-b", "::/EFI/BOOT");
        Assert.Contains("BOOTX64.EFI", listing, StringComparison.Ordinal);
        Assert.Contains("grub.cfg", listing, StringComparison.Ordinal);
        var stub = await Run("mtype", "-i", mtoolsImage, "::/EFI/BOOT/grub.cfg");
        Assert.Equal(GrubConfigGenerator.EfiConfig(GrubMenuOptions.Default), stub.Replace("\r\n", "\n", StringComparison.Ordinal));

        // COS_STATE: both images and the menu.
        var state = OfflineExt4Partition.Open(_runner, options.OutputPath, KairosLayout.StateLabel);
        Assert.True(await state.ExistsAsync("/cOS/active.img"));
        Assert.True(await state.ExistsAsync("/cOS/passive.img"));
        var menu = await state.ReadFileAsync(GrubPaths.MenuConfig);
        Assert.Equal(GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default)), System.Text.Encoding.UTF8.GetString(menu!));
        await AssertImage(state, "/cOS/active.img", KairosLayout.ActiveImageLabel);
        await AssertImage(state, "/cOS/passive.img", KairosLayout.PassiveImageLabel);

        // COS_RECOVERY: the squashfs of the tree and a copy of the menu.
        var recovery = OfflineExt4Partition.Open(_runner, options.OutputPath, KairosLayout.RecoveryLabel);
        Assert.Equal(menu, await recovery.ReadFileAsync(GrubPaths.MenuConfig));
        var squashfs = _temp.Combine("recovery.squashfs");
        await File.WriteAllBytesAsync(squashfs, (await recovery.ReadFileAsync("/cOS/recovery.squashfs"))!);
        Assert.Equal(result.RecoveryImageBytes, new FileInfo(squashfs).Length);
        var squashListing = await Run("unsquashfs", "-l", squashfs);
        Assert.Contains("squashfs-root/boot/initrd", squashListing, StringComparison.Ordinal);
        Assert.Contains("squashfs-root/usr/bin/hello", squashListing, StringComparison.Ordinal);

        // COS_OEM: an empty grubenv GRUB accepts, and the cloud-config.
        var oem = OfflineExt4Partition.Open(_runner, options.OutputPath, KairosLayout.OemLabel);
        var grubenv = (await oem.ReadFileAsync(GrubPaths.Environment))!;
        Assert.Equal(GrubEnvironment.DefaultSize, grubenv.Length);
        Assert.Equal("#cloud-config\nhostname: e2e\n", System.Text.Encoding.UTF8.GetString((await oem.ReadFileAsync("/" + DiskArtifactPlan.CloudConfigName))!));

        // COS_PERSISTENT: an empty ext4 with its label.
        var persistent = table.FindByName(KairosLayout.PersistentLabel)!;
        var superblock = await Run("dumpe2fs", "-h", $"{options.OutputPath}?offset={persistent.OffsetBytes()}");
        Assert.Contains("Filesystem volume name:   COS_PERSISTENT", superblock, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_inputs_give_the_same_disk_bytes()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var builder = new DiskArtifactBuilder(_runner);

        await builder.BuildAsync(Options(root, "first.raw"));
        await builder.BuildAsync(Options(root, "second.raw"));

        Assert.Equal(await Sha256(_temp.Combine("first.raw")), await Sha256(_temp.Combine("second.raw")));
    }

    [Fact]
    public async Task A_qcow2_disk_is_written_when_asked()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        var result = await new DiskArtifactBuilder(_runner).BuildAsync(Options(root, "disk.qcow2") with { Format = DiskImageFormat.Qcow2 });

        Assert.Equal(DiskImageFormat.Qcow2, result.Format);
        var info = await Run("qemu-img", "info", result.OutputPath);
        Assert.Contains("file format: qcow2", info, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"({result.DiskBytes} bytes)"), info, StringComparison.Ordinal);
        await Assert.ThrowsAsync<OfflineEditException>(() => new BootEntrySelector(_runner).SelectNextAsync(result.OutputPath, GrubMenu.PassiveEntry));
    }

    [Fact]
    public async Task Bootentry_sets_next_entry_in_the_grubenv_of_the_disk_and_grub_reads_it()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var options = Options(root);
        await new DiskArtifactBuilder(_runner).BuildAsync(options);
        var selector = new BootEntrySelector(_runner);

        await selector.SelectNextAsync(options.OutputPath, GrubMenu.PassiveEntry);
        await selector.EditAsync(options.OutputPath, environment => environment.Set(GrubEnvironmentKeys.ExtraCmdline, "quiet"));

        var environment = await selector.ReadAsync(options.OutputPath);
        Assert.Equal(GrubMenu.PassiveEntry, environment.Get(GrubEnvironmentKeys.NextEntry));
        Assert.Equal("quiet", environment.Get(GrubEnvironmentKeys.ExtraCmdline));
        var oem = OfflineExt4Partition.Open(_runner, options.OutputPath, KairosLayout.OemLabel);
        var copy = _temp.Combine("grubenv");
        await File.WriteAllBytesAsync(copy, (await oem.ReadFileAsync(GrubPaths.Environment))!);
        Assert.Equal(GrubEnvironment.DefaultSize, new FileInfo(copy).Length);
        var listed = await Run("grub-editenv", copy, "list");
        Assert.Contains("next_entry=fallback", listed, StringComparison.Ordinal);
        var fsck = table(options.OutputPath);
        await Run("e2fsck", "-fn", $"{options.OutputPath}?offset={fsck}");

        static long table(string disk) => GptReader.FindPartition(disk, KairosLayout.OemLabel).OffsetBytes();
    }

    [Fact]
    public async Task Removing_a_file_offline_leaves_a_clean_filesystem()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var options = Options(root);
        await new DiskArtifactBuilder(_runner).BuildAsync(options);
        var state = OfflineExt4Partition.Open(_runner, options.OutputPath, KairosLayout.StateLabel);

        await state.RemoveAsync("/cOS/active.img");

        Assert.False(await state.ExistsAsync("/cOS/active.img"));
        Assert.True(await state.ExistsAsync("/cOS/passive.img"));
        await Assert.ThrowsAsync<OfflineEditException>(() => state.RemoveAsync("/cOS/active.img"));
        await using (var loop = await Disk.Devices.LoopDevice.AttachPartitionAsync(_runner, options.OutputPath, KairosLayout.StateLabel, readOnly: true))
        {
            await Run("e2fsck", "-fn", loop.Device);
        }
    }

    [Fact]
    public async Task Bad_input_leaves_no_output_and_no_work_directory()
    {
        var noKernel = ArtifactTestTrees.Create(_temp.Combine("nokernel"), kernel: false);
        Directory.CreateDirectory(_temp.Combine("out"));
        var output = _temp.Combine("out", "disk.raw");
        var builder = new DiskArtifactBuilder(_runner);

        await Assert.ThrowsAsync<ImageNotBootableException>(() => builder.BuildAsync(new DiskArtifactOptions { RootDirectory = noKernel, OutputPath = output }));
        var root = ArtifactTestTrees.Create(_temp.Combine("good"));
        await Assert.ThrowsAsync<DiskTooSmallException>(() => builder.BuildAsync(new DiskArtifactOptions { RootDirectory = root, OutputPath = output, SizeBytes = 100 * ByteSize.MiB }));
        var hiding = new HidingToolRunner(_runner, "grub-mkimage");
        await Assert.ThrowsAsync<ToolNotFoundException>(() => new DiskArtifactBuilder(hiding).BuildAsync(new DiskArtifactOptions { RootDirectory = root, OutputPath = output }));
        Assert.Empty(hiding.Calls);

        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Combine("out")));
    }

    private async Task AssertImage(OfflineExt4Partition state, string path, string label)
    {
        var image = _temp.Combine(label + ".img");
        await File.WriteAllBytesAsync(image, (await state.ReadFileAsync(path))!);
        try
        {
            var superblock = await Run("dumpe2fs", "-h", image);
            Assert.Contains($"Filesystem volume name:   {label}", superblock, StringComparison.Ordinal);
            var kernel = await Run("debugfs", "-R", "cat /boot/vmlinuz-6.1.0-test", image);
            Assert.Contains("not a real kernel", kernel, StringComparison.Ordinal);
            var link = await Run("debugfs", "-R", "stat /boot/vmlinuz", image);
            Assert.Contains("Fast link dest: \"vmlinuz-6.1.0-test\"", link, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(image);
        }
    }

    private async Task<string> Run(string tool, params string[] arguments)
    {
        var result = await _runner.RunAsync(new ToolInvocation(tool, arguments));
        return result.StandardOutput + result.StandardError;
    }

    private static async Task<string> Sha256(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexString(await SHA256.HashDataAsync(stream));
    }
}
