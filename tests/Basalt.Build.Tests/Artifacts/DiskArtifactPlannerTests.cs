using Basalt.Boot.Grub;
using Basalt.Build.Artifacts;
using Basalt.Disk;
using Basalt.Disk.Assembly;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Artifacts;

public sealed class DiskArtifactPlannerTests : IDisposable
{
    private readonly TempDirectory _temp = new("artifact-plan");

    public void Dispose() => _temp.Dispose();

    private DiskArtifactOptions Options(string root) => new()
    {
        RootDirectory = root,
        OutputPath = _temp.Combine("disk.raw"),
        GrubModulesDirectory = ArtifactTestTrees.FakeGrubModules(_temp.Path),
    };

    [Fact]
    public void A_plan_has_the_kairos_partitions_in_order_with_images_sized_from_the_tree()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        var plan = DiskArtifactPlanner.Plan(Options(root));

        Assert.Equal(
            [KairosLayout.GrubLabel, KairosLayout.OemLabel, KairosLayout.RecoveryLabel, KairosLayout.StateLabel, KairosLayout.PersistentLabel],
            plan.Layout.Partitions.Select(partition => partition.Label));
        Assert.Equal(KairosLayout.ActiveImageLabel, plan.ActiveImage.Label);
        Assert.Equal(KairosLayout.PassiveImageLabel, plan.PassiveImage.Label);
        Assert.Equal(plan.ActiveImage.SizeBytes, plan.PassiveImage.SizeBytes);
        Assert.NotEqual(plan.ActiveImage.Uuid, plan.PassiveImage.Uuid);
        Assert.True(plan.ActiveImage.SizeBytes >= plan.Tree.BlockBytes);
        Assert.True(plan.RecoveryImage.SizeBytes >= plan.Tree.ApparentBytes);
        Assert.Equal(KairosLayout.StateBytes(new KairosSizingInputs(plan.ActiveImage.SizeBytes, plan.RecoveryImage.SizeBytes)), plan.Layout.Get(KairosLayout.StateLabel).SizeBytes);
        Assert.True(plan.Layout.Get(KairosLayout.StateLabel).SizeBytes >= 3 * plan.ActiveImage.SizeBytes);
        Assert.Equal(plan.Layout.Partitions.Sum(partition => partition.SizeBytes) + (2 * DiskLayout.LeadingBytes), plan.Layout.DiskBytes);
        Assert.True(plan.RequiredFreeBytes > plan.WorkBytes);
    }

    [Fact]
    public void The_plan_carries_the_grub_stub_and_menu_and_prints_every_partition()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        var plan = DiskArtifactPlanner.Plan(Options(root));
        var text = plan.ToString();

        Assert.Equal(GrubConfigGenerator.EfiConfig(GrubMenuOptions.Default), plan.EfiConfig);
        Assert.Equal(GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default)), plan.MenuConfig);
        Assert.Contains("search --no-floppy --label --set=basalt_menu_root COS_STATE", plan.EfiConfig, StringComparison.Ordinal);
        Assert.Contains("loopback loop0 /cOS/active.img", plan.MenuConfig, StringComparison.Ordinal);
        foreach (var label in plan.Layout.Partitions.Select(partition => partition.Label))
        {
            Assert.Contains(label, text, StringComparison.Ordinal);
        }

        Assert.Contains("/cOS/active.img, /cOS/passive.img", text, StringComparison.Ordinal);
        Assert.Contains("squash4", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_inputs_plan_the_same_disk_and_another_seed_changes_every_guid()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var first = DiskArtifactPlanner.Plan(Options(root));
        var second = DiskArtifactPlanner.Plan(Options(root));
        var reseeded = DiskArtifactPlanner.Plan(Options(root) with { Seed = "other" });

        Assert.Equal(first.Layout.DiskGuid, second.Layout.DiskGuid);
        Assert.Equal(first.Layout.Partitions.Select(p => (p.PartitionGuid, p.FileSystemUuid, p.FirstLba, p.LastLba)), second.Layout.Partitions.Select(p => (p.PartitionGuid, p.FileSystemUuid, p.FirstLba, p.LastLba)));
        Assert.Equal(first.ActiveImage, second.ActiveImage);
        Assert.NotEqual(first.Layout.DiskGuid, reseeded.Layout.DiskGuid);
        Assert.NotEqual(first.ActiveImage.Uuid, reseeded.ActiveImage.Uuid);
        Assert.Empty(first.Layout.Partitions.Select(p => p.PartitionGuid).Intersect(reseeded.Layout.Partitions.Select(p => p.PartitionGuid)));
    }

    [Fact]
    public void A_requested_size_is_used_and_the_persistent_partition_fills_it()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var minimum = DiskArtifactPlanner.Plan(Options(root)).Layout.DiskBytes;

        var plan = DiskArtifactPlanner.Plan(Options(root) with { SizeBytes = minimum + ByteSize.GiB });

        Assert.Equal(minimum + ByteSize.GiB, plan.Layout.DiskBytes);
        Assert.True(plan.Layout.Get(KairosLayout.PersistentLabel).SizeBytes >= ByteSize.GiB);
    }

    [Fact]
    public void Content_for_cos_persistent_sizes_the_persistent_partition_so_the_build_cannot_run_out_of_room()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var persistent = _temp.Combine("persistent");
        Directory.CreateDirectory(Path.Combine(persistent, ".basalt", "blobs"));
        using (var layer = File.Create(Path.Combine(persistent, ".basalt", "blobs", "layer")))
        {
            layer.SetLength(600L * 1024 * 1024); // sized by its length: a seeded blob is as large as it says
        }

        var plan = DiskArtifactPlanner.Plan(Options(root) with { PersistentContentDirectory = persistent });

        var size = plan.Layout.Get(KairosLayout.PersistentLabel).SizeBytes;
        Assert.True(size > 600L * 1024 * 1024, $"COS_PERSISTENT is {size} bytes for 600 MiB of content");
        var empty = DiskArtifactPlanner.Plan(Options(root));
        Assert.True(plan.Layout.DiskBytes > empty.Layout.DiskBytes);
        // A device sized for the disk without the content is refused before anything is written.
        Assert.Throws<DiskTooSmallException>(() => DiskArtifactPlanner.Plan(Options(root) with { PersistentContentDirectory = persistent, SizeBytes = empty.Layout.DiskBytes }));
    }

    [Fact]
    public void A_size_below_the_minimum_is_refused_with_the_minimum()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        var error = Assert.Throws<DiskTooSmallException>(() => DiskArtifactPlanner.Plan(Options(root) with { SizeBytes = 256 * ByteSize.MiB }));

        Assert.True(error.MinimumBytes > 256 * ByteSize.MiB);
        Assert.Contains("--size", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tree_without_a_kernel_is_not_bootable()
    {
        var root = ArtifactTestTrees.Create(_temp.Path, kernel: false);

        var error = Assert.Throws<ImageNotBootableException>(() => DiskArtifactPlanner.Plan(Options(root)));

        Assert.StartsWith("the image has no kernel", error.Message, StringComparison.Ordinal);
        Assert.Equal(["/boot/vmlinuz"], error.Missing);
        Assert.Contains("basalt build image", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tree_without_an_initramfs_is_not_bootable()
    {
        var root = ArtifactTestTrees.Create(_temp.Path, initrd: false);

        var error = Assert.Throws<ImageNotBootableException>(() => DiskArtifactPlanner.Plan(Options(root)));

        Assert.Equal(["/boot/initrd"], error.Missing);
    }

    [Fact]
    public void Kernel_symlinks_resolve_inside_the_tree_not_on_the_host()
    {
        var root = ArtifactTestTrees.Create(_temp.Path, kernel: false);
        File.WriteAllText(Path.Combine(root, "boot", "vmlinuz-real"), "kernel");
        File.CreateSymbolicLink(Path.Combine(root, "boot", "vmlinuz"), "/boot/vmlinuz-real");

        Assert.Equal(Path.Combine(root, "boot", "vmlinuz-real"), RootedFile.Resolve(root, "/boot/vmlinuz"));
        DiskArtifactPlanner.EnsureBootable(root);

        // An absolute link to a host file that the tree lacks must not count, even when the host has it.
        File.Delete(Path.Combine(root, "boot", "vmlinuz"));
        File.CreateSymbolicLink(Path.Combine(root, "boot", "vmlinuz"), "/etc/hostname");
        Assert.Null(RootedFile.Resolve(root, "/boot/vmlinuz"));
        Assert.Throws<ImageNotBootableException>(() => DiskArtifactPlanner.EnsureBootable(root));
    }

    [Fact]
    public void A_missing_tree_cloud_config_or_grub_modules_are_typed_errors()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        Assert.Throws<ImageRootNotFoundException>(() => DiskArtifactPlanner.Plan(Options(_temp.Combine("nope"))));
        Assert.Throws<CloudConfigNotFoundException>(() => DiskArtifactPlanner.Plan(Options(root) with { CloudConfigPath = _temp.Combine("missing.yaml") }));
        var grub = Assert.Throws<GrubModulesNotFoundException>(() => DiskArtifactPlanner.Plan(Options(root) with { GrubModulesDirectory = _temp.Combine("no-grub") }));
        Assert.Contains("grub-efi-amd64-bin", grub.Hint, StringComparison.Ordinal);
        Assert.Throws<InvalidDiskOutputException>(() => DiskArtifactPlanner.Plan(Options(root) with { OutputPath = _temp.Combine("no-dir", "disk.raw") }));
    }

    [Fact]
    public void Qcow2_needs_qemu_img_and_room_for_the_conversion()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var raw = DiskArtifactPlanner.Plan(Options(root));
        var qcow2 = DiskArtifactPlanner.Plan(Options(root) with { Format = DiskImageFormat.Qcow2 });

        Assert.DoesNotContain(raw.Tools, tool => tool.Tool == DiskAssembler.QemuImgTool);
        Assert.Contains(qcow2.Tools, tool => tool.Tool == DiskAssembler.QemuImgTool);
        Assert.True(qcow2.RequiredFreeBytes > raw.RequiredFreeBytes);
    }

    [Fact]
    public async Task A_missing_tool_fails_before_the_work_directory_or_the_output_exist()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var runner = new HidingToolRunner(new ToolRunner(), "mksquashfs");
        var options = Options(root);

        var error = await Assert.ThrowsAsync<ToolNotFoundException>(() => new DiskArtifactBuilder(runner).BuildAsync(options));

        Assert.Equal("mksquashfs", error.Tool);
        Assert.Empty(runner.Calls);
        Assert.False(File.Exists(options.OutputPath));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path, ".disk.raw*"));
    }

    [Fact]
    public async Task An_unknown_boot_entry_is_refused_before_the_disk_is_read()
    {
        var error = await Assert.ThrowsAsync<UnknownBootEntryException>(() => new BootEntrySelector(new ToolRunner()).SelectNextAsync(_temp.Combine("absent.raw"), "passive"));

        Assert.Contains("fallback", error.Hint, StringComparison.Ordinal);
        Assert.Equal([GrubMenu.ActiveEntry, GrubMenu.PassiveEntry, GrubMenu.RecoveryEntry, GrubMenu.ResetEntry], BootEntrySelector.Entries);
    }

    [Fact]
    public void State_files_are_listed_on_cos_state_and_may_neither_replace_what_the_build_writes_nor_leave_the_partition()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var slots = _temp.Combine("slots.json");
        File.WriteAllText(slots, "{}");

        var plan = DiskArtifactPlanner.Plan(Options(root) with { StateFiles = [new DiskContentFile(slots, "/cOS/slots.json")] });

        Assert.Contains("/cOS/passive.img, /grub2/grub.cfg, /cOS/slots.json", plan.ToString(), StringComparison.Ordinal);
        foreach (var target in new[] { "/cOS/active.img", "/cOS/passive.img", "/grub2/grub.cfg", "/cOS/../../escape", "cOS/relative", "/cOS/" })
        {
            Assert.Throws<ArgumentException>(() => DiskArtifactPlanner.Plan(Options(root) with { StateFiles = [new DiskContentFile(slots, target)] }));
        }

        Assert.Throws<ArgumentException>(() => DiskArtifactPlanner.Plan(Options(root) with { StateFiles = [new DiskContentFile(_temp.Combine("absent.json"), "/cOS/slots.json")] }));
        Assert.Throws<ArgumentException>(() => DiskArtifactPlanner.Plan(Options(root) with { StateFiles = [new DiskContentFile(slots, "/a"), new DiskContentFile(slots, "/a")] }));
    }
}
