using System.Text.RegularExpressions;
using Basalt.Disk.Assembly;
using Basalt.Disk.Devices;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Integration;

[Trait(Tiers.Key, Tiers.Integration)]
[Collection(LoopDeviceCollection.Name)]
public sealed class DiskAssemblyTests
{
    private const long MiB = 1024 * 1024;
    private const string Seed = "basalt-integration";
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static void RequireTools()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("sgdisk", "gdisk");
        Requires.Tool("losetup", "mount");
    }

    /// <summary>Builds every image of the default layout from a tiny rootfs, the way `basalt build disk` composes them.</summary>
    private static async Task<DiskPlan> PlanDefaultDiskAsync(TempDirectory temp, string output, DiskImageFormat format = DiskImageFormat.Raw)
    {
        var rootfs = temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        Directory.CreateDirectory(Path.Combine(rootfs, "boot"));
        File.WriteAllText(Path.Combine(rootfs, "etc", "os-release"), "ID=basalt\n");
        File.WriteAllBytes(Path.Combine(rootfs, "boot", "vmlinuz"), Enumerable.Range(0, 3 * (int)MiB).Select(index => (byte)(index * 7)).ToArray());
        foreach (var path in Directory.EnumerateFileSystemEntries(rootfs, "*", SearchOption.AllDirectories).Append(rootfs))
        {
            Posix.SetTimes(path, Epoch, Epoch);
        }

        var ext4 = new Ext4ImageBuilder(Host.Runner);
        var estimate = Ext4Sizing.ForTree(DirectoryTree.Measure(rootfs));
        var state = temp.Combine("state");
        Directory.CreateDirectory(Path.Combine(state, "cOS"));
        await ext4.BuildAsync(Path.Combine(state, "cOS", "active.img"), new Ext4ImageSpec(KairosLayout.ActiveImageLabel, DeterministicGuid.Create(Seed, "active"), estimate.ImageBytes)
        { SourceDirectory = rootfs, InodeCount = estimate.InodeCount, ReservedPercent = 0, Timestamp = Epoch });
        await ext4.BuildAsync(Path.Combine(state, "cOS", "passive.img"), new Ext4ImageSpec(KairosLayout.PassiveImageLabel, DeterministicGuid.Create(Seed, "passive"), estimate.ImageBytes)
        { SourceDirectory = rootfs, InodeCount = estimate.InodeCount, ReservedPercent = 0, Timestamp = Epoch });

        var recovery = temp.Combine("recovery");
        Directory.CreateDirectory(Path.Combine(recovery, "cOS"));
        var squashfs = Path.Combine(recovery, "cOS", "recovery.squashfs");
        await new SquashfsImageBuilder(Host.Runner).BuildAsync(squashfs, new SquashfsImageSpec(rootfs) { Timestamp = Epoch });

        var oem = temp.Combine("oem");
        Directory.CreateDirectory(oem);
        File.WriteAllText(Path.Combine(oem, "99_custom.yaml"), "#cloud-config\nhostname: basalt\n");

        var inputs = new KairosSizingInputs(estimate.ImageBytes, new FileInfo(squashfs).Length) { OemContentBytes = 4096 };
        var layout = KairosLayout.Create(inputs, Seed, new KairosSizingPolicy { PersistentMinimumBytes = 64 * MiB }).Resolve();

        foreach (var (label, source) in new[] { (KairosLayout.StateLabel, state), (KairosLayout.RecoveryLabel, recovery) })
        {
            var placement = layout.Get(label);
            await ext4.BuildAsync(temp.Combine(label + ".img"), new Ext4ImageSpec(placement.FileSystemLabel, placement.FileSystemUuid, placement.SizeBytes) { SourceDirectory = source, Timestamp = Epoch });
        }

        var grubConfig = temp.Combine("grub.cfg");
        File.WriteAllText(grubConfig, "menuentry cos { true }\n");
        Posix.SetTimes(grubConfig, Epoch, Epoch);
        var grub = layout.Get(KairosLayout.GrubLabel);
        await new VfatImageBuilder(Host.Runner).BuildAsync(temp.Combine("COS_GRUB.img"), new VfatImageSpec(grub.FileSystemLabel, DeterministicGuid.CreateVolumeId(Seed, grub.Label), grub.SizeBytes)
        { Files = [new VfatFile(grubConfig, "EFI/BOOT/grub.cfg")], Timestamp = Epoch });

        return DiskPlan.Create(layout,
        [
            PartitionSource.Image(KairosLayout.GrubLabel, temp.Combine("COS_GRUB.img")),
            PartitionSource.FormatExt4(KairosLayout.OemLabel, oem),
            PartitionSource.Image(KairosLayout.RecoveryLabel, temp.Combine("COS_RECOVERY.img")),
            PartitionSource.Image(KairosLayout.StateLabel, temp.Combine("COS_STATE.img")),
            PartitionSource.FormatExt4(KairosLayout.PersistentLabel),
        ], output, format) with { Timestamp = Epoch };
    }

    [Fact]
    public async Task Default_layout_disk_passes_sgdisk_and_its_partitions_mount_through_loop_ranges()
    {
        RequireTools();
        using var temp = new TempDirectory("disk");
        var output = temp.Combine("out", "disk.raw");
        Directory.CreateDirectory(temp.Combine("out"));
        var plan = await PlanDefaultDiskAsync(temp, output);
        var result = await new DiskAssembler(Host.Runner).AssembleAsync(plan);

        Assert.Equal(plan.Layout.DiskBytes, new FileInfo(output).Length);
        Assert.True(result.AllocatedBytes < plan.Layout.DiskBytes / 2, $"the disk should stay sparse: {result.AllocatedBytes} of {plan.Layout.DiskBytes}");
        Assert.Equal(["disk.raw"], Directory.EnumerateFileSystemEntries(temp.Combine("out")).Select(Path.GetFileName));

        var verify = await Host.RunAsync("sgdisk", "-v", output);
        Assert.Contains("No problems found", verify.StandardOutput, StringComparison.Ordinal);
        var print = (await Host.RunAsync("sgdisk", "-p", output)).StandardOutput;
        Assert.Contains($"Disk identifier (GUID): {plan.Layout.DiskGuid.ToString().ToUpperInvariant()}", print, StringComparison.Ordinal);
        foreach (var placement in plan.Layout.Partitions)
        {
            var code = placement.Spec.TypeGuid == PartitionTypes.EfiSystem ? "EF00" : "8300";
            Assert.Matches(new Regex($@"^\s+{placement.Number}\s+{placement.FirstLba}\s+{placement.LastLba}\s+.*\s{code}\s+{placement.Label}\s*$", RegexOptions.Multiline), print);
        }

        var partitionInfo = (await Host.RunAsync("sgdisk", "-i", "4", output)).StandardOutput;
        Assert.Contains($"Partition unique GUID: {plan.Layout.Get("COS_STATE").PartitionGuid.ToString().ToUpperInvariant()}", partitionInfo, StringComparison.Ordinal);
        var table = GptReader.Read(output);
        Assert.Equal(plan.Layout.DiskGuid, table.DiskGuid);
        Assert.Equal(plan.Layout.DiskBytes / 512, table.TotalSectors);
        Assert.Equal(plan.Layout.ToGpt().Partitions, table.Partitions);

        var mountPoint = temp.Combine("mnt");
        await using (var state = await MountedPartition.MountAsync(Host.Runner, output, KairosLayout.StateLabel, mountPoint))
        {
            Assert.Equal(Host.Sha256(temp.Combine("state", "cOS", "active.img")), Host.Sha256(Path.Combine(mountPoint, "cOS", "active.img")));
            Assert.True(File.Exists(Path.Combine(mountPoint, "cOS", "passive.img")));
            Assert.StartsWith("/dev/loop", state.Loop.Device, StringComparison.Ordinal);
        }

        await using (await MountedPartition.MountAsync(Host.Runner, output, KairosLayout.RecoveryLabel, mountPoint))
        {
            Assert.Equal(Host.Sha256(temp.Combine("recovery", "cOS", "recovery.squashfs")), Host.Sha256(Path.Combine(mountPoint, "cOS", "recovery.squashfs")));
        }

        var persistent = GptReader.FindPartition(output, KairosLayout.PersistentLabel);
        Assert.Equal(plan.Layout.Get(KairosLayout.PersistentLabel).OffsetBytes, persistent.OffsetBytes());

        await using (await MountedPartition.MountAsync(Host.Runner, output, KairosLayout.OemLabel, mountPoint))
        {
            Assert.Equal("#cloud-config\nhostname: basalt\n", await File.ReadAllTextAsync(Path.Combine(mountPoint, "99_custom.yaml")));
        }

        foreach (var label in new[] { KairosLayout.OemLabel, KairosLayout.RecoveryLabel, KairosLayout.StateLabel, KairosLayout.PersistentLabel })
        {
            await using var loop = await LoopDevice.AttachPartitionAsync(Host.Runner, output, label, readOnly: true);
            await Host.RunAsync("e2fsck", "-fn", loop.Device);
            var probe = (await Host.RunAsync("blkid", "-p", "-o", "export", loop.Device)).StandardOutput;
            Assert.Contains($"LABEL={label}", probe, StringComparison.Ordinal);
            Assert.Contains($"UUID={plan.Layout.Get(label).FileSystemUuid}", probe, StringComparison.Ordinal);
            Assert.Contains($"{plan.Layout.Get(label).SizeBytes}", (await Host.RunAsync("blockdev", "--getsize64", loop.Device)).StandardOutput, StringComparison.Ordinal);
        }

        await using (var esp = await LoopDevice.AttachPartitionAsync(Host.Runner, output, KairosLayout.GrubLabel, readOnly: true))
        {
            await Host.RunAsync("fsck.vfat", "-n", esp.Device);
        }

        var grub = plan.Layout.Get(KairosLayout.GrubLabel);
        var mdir = await Host.Runner.RunAsync(new ToolInvocation("mdir", ["-/", "-b", "-i", $"{output}@@{grub.OffsetBytes}", "::/"])
        { Environment = new Dictionary<string, string> { ["MTOOLS_SKIP_CHECK"] = "1" } });
        Assert.Contains("::/EFI/BOOT/grub.cfg", mdir.StandardOutput, StringComparison.Ordinal);

        Assert.Equal(string.Empty, await Host.LoopsOfAsync(output));
    }

    [Fact]
    public async Task Same_inputs_give_the_same_disk_bytes()
    {
        RequireTools();
        using var temp = new TempDirectory("disk");
        var plan = await PlanDefaultDiskAsync(temp, temp.Combine("first.raw"));
        var assembler = new DiskAssembler(Host.Runner);
        await assembler.AssembleAsync(plan);
        FileSystemImageTests.DisturbTimes(temp.Combine("oem"));
        await assembler.AssembleAsync(plan with { OutputPath = temp.Combine("second.raw") });
        Assert.Equal(Host.Sha256(temp.Combine("first.raw")), Host.Sha256(temp.Combine("second.raw")));
    }

    [Fact]
    public async Task Qcow2_output_passes_qemu_img_check()
    {
        RequireTools();
        Requires.Tool("qemu-img", "qemu-utils");
        using var temp = new TempDirectory("disk");
        var output = temp.Combine("disk.qcow2");
        var plan = await PlanDefaultDiskAsync(temp, output, DiskImageFormat.Qcow2);
        await new DiskAssembler(Host.Runner).AssembleAsync(plan);

        await Host.RunAsync("qemu-img", "check", "-f", "qcow2", output);
        var info = (await Host.RunAsync("qemu-img", "info", "--output=json", output)).StandardOutput;
        using var json = System.Text.Json.JsonDocument.Parse(info);
        Assert.Equal("qcow2", json.RootElement.GetProperty("format").GetString());
        Assert.Equal(plan.Layout.DiskBytes, json.RootElement.GetProperty("virtual-size").GetInt64());
        Assert.Empty(Directory.EnumerateFiles(temp.Path, ".disk.qcow2.tmp*"));
    }

    [Fact]
    public async Task A_failed_mount_still_detaches_the_loop_device()
    {
        RequireTools();
        using var temp = new TempDirectory("disk");
        var output = temp.Combine("disk.raw");
        var plan = await PlanDefaultDiskAsync(temp, output);
        await new DiskAssembler(Host.Runner).AssembleAsync(plan);

        await Assert.ThrowsAsync<MountException>(() =>
            MountedPartition.MountAsync(Host.Runner, output, KairosLayout.GrubLabel, temp.Combine("mnt"), fileSystemType: "ext4"));
        Assert.Equal(string.Empty, await Host.LoopsOfAsync(output));
        await Assert.ThrowsAsync<PartitionNotFoundException>(() => LoopDevice.AttachPartitionAsync(Host.Runner, output, "COS_NOPE"));
    }
}
