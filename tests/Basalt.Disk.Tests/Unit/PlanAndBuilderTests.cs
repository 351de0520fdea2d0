using Basalt.Disk.Assembly;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Unit;

public sealed class PlanAndBuilderTests
{
    private const long MiB = 1024 * 1024;

    private static ResolvedDiskLayout SmallLayout(long? size = null) =>
        KairosLayout.Create(new KairosSizingInputs(4 * MiB, 4 * MiB), "unit", new KairosSizingPolicy { PersistentMinimumBytes = 16 * MiB })
            .Resolve(size);

    [Fact]
    public void Plan_measures_images_and_leaves_unnamed_partitions_empty()
    {
        using var temp = new TempDirectory("plan");
        var image = temp.Combine("oem.img");
        File.WriteAllBytes(image, new byte[3 * MiB]);
        var plan = DiskPlan.Create(SmallLayout(), [PartitionSource.Image("COS_OEM", image), PartitionSource.FormatExt4("COS_PERSISTENT")], temp.Combine("disk.raw"));
        var oem = plan.Partitions.Single(partition => partition.Placement.Label == "COS_OEM");
        Assert.Equal(3 * MiB, oem.ContentBytes);
        Assert.True(oem.DataBytes <= 3 * MiB);
        Assert.Equal(PartitionContentKind.Empty, plan.Partitions.Single(partition => partition.Placement.Label == "COS_STATE").Source.Kind);
        Assert.True(plan.RequiredFreeBytes > plan.DataBytes);
    }

    [Fact]
    public void Plan_counts_allocated_bytes_of_a_sparse_image_not_its_length()
    {
        using var temp = new TempDirectory("plan");
        var image = temp.Combine("sparse.img");
        using (var stream = File.Create(image))
        {
            stream.SetLength(40 * MiB);
            stream.WriteByte(1);
        }

        var layout = KairosLayout.Create(new KairosSizingInputs(20 * MiB, 4 * MiB), "unit").Resolve();
        var plan = DiskPlan.Create(layout, [PartitionSource.Image("COS_STATE", image)], temp.Combine("disk.raw"));
        var state = plan.Partitions.Single(partition => partition.Placement.Label == "COS_STATE");
        Assert.Equal(40 * MiB, state.ContentBytes);
        Assert.True(state.DataBytes < MiB, $"a 40 MiB sparse file with one byte counts {state.DataBytes} bytes");
    }

    [Fact]
    public void Plan_rejects_an_image_larger_than_its_partition()
    {
        using var temp = new TempDirectory("plan");
        var image = temp.Combine("big.img");
        using (var stream = File.Create(image))
        {
            stream.SetLength(65 * MiB);
        }

        var error = Assert.Throws<ImageTooLargeException>(() => DiskPlan.Create(SmallLayout(), [PartitionSource.Image("COS_OEM", image)], temp.Combine("d.raw")));
        Assert.Equal("COS_OEM", error.Label);
    }

    [Fact]
    public void Plan_rejects_unknown_labels_missing_images_and_ext4_on_vfat()
    {
        using var temp = new TempDirectory("plan");
        Assert.Throws<PartitionNotFoundException>(() => DiskPlan.Create(SmallLayout(), [PartitionSource.Empty("COS_NOPE")], temp.Combine("d.raw")));
        Assert.Throws<DiskSourceNotFoundException>(() => DiskPlan.Create(SmallLayout(), [PartitionSource.Image("COS_OEM", temp.Combine("missing.img"))], temp.Combine("d.raw")));
        Assert.Throws<InvalidLayoutException>(() => DiskPlan.Create(SmallLayout(), [PartitionSource.FormatExt4("COS_GRUB")], temp.Combine("d.raw")));
        Assert.Throws<InvalidLayoutException>(() => DiskPlan.Create(SmallLayout(), [PartitionSource.Empty("COS_OEM"), PartitionSource.Empty("COS_OEM")], temp.Combine("d.raw")));
    }

    [Fact]
    public void Plan_prints_as_text_and_json()
    {
        using var temp = new TempDirectory("plan");
        var plan = DiskPlan.Create(SmallLayout(), [PartitionSource.FormatExt4("COS_PERSISTENT")], temp.Combine("disk.qcow2"), DiskImageFormat.Qcow2);
        var text = plan.ToString();
        foreach (var label in new[] { "COS_GRUB", "COS_OEM", "COS_RECOVERY", "COS_STATE", "COS_PERSISTENT" })
        {
            Assert.Contains(label, text, StringComparison.Ordinal);
        }

        Assert.Contains("qcow2", text, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(plan.ToJson());
        var root = json.RootElement;
        Assert.Equal("Qcow2", root.GetProperty("format").GetString());
        var partitions = root.GetProperty("partitions");
        Assert.Equal(5, partitions.GetArrayLength());
        var persistent = partitions[4];
        Assert.Equal("COS_PERSISTENT", persistent.GetProperty("placement").GetProperty("label").GetString());
        Assert.Equal("FormatExt4", persistent.GetProperty("source").GetProperty("kind").GetString());
        Assert.Equal(plan.Layout.Get("COS_PERSISTENT").OffsetBytes, persistent.GetProperty("placement").GetProperty("offsetBytes").GetInt64());
    }

    [Fact]
    public async Task Assembler_fails_on_a_missing_tool_before_writing_anything()
    {
        using var temp = new TempDirectory("assemble");
        var runner = new FakeToolRunner();
        runner.Missing.Add("qemu-img");
        var plan = DiskPlan.Create(SmallLayout(), [], temp.Combine("disk.qcow2"), DiskImageFormat.Qcow2);
        var error = await Assert.ThrowsAsync<ToolNotFoundException>(() => new DiskAssembler(runner).AssembleAsync(plan));
        Assert.Equal("qemu-utils", error.Package);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
        Assert.Empty(runner.Calls);
    }

    [Fact]
    public async Task Assembler_fails_on_missing_mkfs_before_writing_anything()
    {
        using var temp = new TempDirectory("assemble");
        var runner = new FakeToolRunner();
        runner.Missing.Add("mkfs.ext4");
        var plan = DiskPlan.Create(SmallLayout(), [PartitionSource.FormatExt4("COS_PERSISTENT")], temp.Combine("disk.raw"));
        var error = await Assert.ThrowsAsync<ToolNotFoundException>(() => new DiskAssembler(runner).AssembleAsync(plan));
        Assert.Equal("e2fsprogs", error.Package);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public async Task Assembler_refuses_when_the_output_filesystem_lacks_space()
    {
        using var temp = new TempDirectory("assemble");
        var petabyte = 1024L * 1024 * 1024 * 1024 * 1024;
        var plan = DiskPlan.Create(SmallLayout(petabyte), [PartitionSource.FormatExt4("COS_PERSISTENT")], temp.Combine("disk.raw"));
        var error = await Assert.ThrowsAsync<InsufficientSpaceException>(() => new DiskAssembler(new FakeToolRunner()).AssembleAsync(plan));
        Assert.Equal("insufficient-space", error.Kind);
        Assert.True(error.NeededBytes > error.AvailableBytes);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public async Task Assembler_writes_the_gpt_and_copies_images_sparsely_without_tools()
    {
        using var temp = new TempDirectory("assemble");
        var image = temp.Combine("oem.img");
        var content = new byte[2 * MiB];
        content[0] = 0xAB;
        content[(int)MiB + 5] = 0xCD;
        File.WriteAllBytes(image, content);
        var layout = SmallLayout();
        var output = temp.Combine("disk.raw");
        var runner = new FakeToolRunner();
        var result = await new DiskAssembler(runner).AssembleAsync(DiskPlan.Create(layout, [PartitionSource.Image("COS_OEM", image)], output));

        Assert.Empty(runner.Calls);
        Assert.Equal(layout.DiskBytes, new FileInfo(output).Length);
        Assert.True(result.AllocatedBytes < MiB, $"disk occupies {result.AllocatedBytes} bytes");
        var table = GptReader.Read(output);
        Assert.Equal(layout.ToGpt().Partitions, table.Partitions);
        using var disk = File.OpenRead(output);
        var oem = layout.Get("COS_OEM").OffsetBytes;
        disk.Position = oem;
        Assert.Equal(0xAB, disk.ReadByte());
        disk.Position = oem + MiB + 5;
        Assert.Equal(0xCD, disk.ReadByte());
        Assert.Single(Directory.EnumerateFiles(temp.Path, "disk*"));
        Assert.Empty(Directory.EnumerateFiles(temp.Path, ".disk.raw.tmp*"));
    }

    [Fact]
    public void Sparse_copy_skips_zero_blocks_and_keeps_data()
    {
        using var temp = new TempDirectory("sparse");
        var source = temp.Combine("source");
        var data = new byte[3 * MiB];
        data[4096 * 3] = 7;
        data[^1] = 9;
        File.WriteAllBytes(source, data);
        var target = temp.Combine("target");
        long written;
        using (var handle = File.OpenHandle(target, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, 8 * MiB);
            written = SparseCopy.Copy(source, handle, MiB);
        }

        Assert.Equal(2 * 4096, written);
        var copy = File.ReadAllBytes(target);
        Assert.Equal(data, copy.AsSpan((int)MiB, data.Length).ToArray());
        Assert.True(Posix.GetStatus(target).AllocatedBytes <= 64 * 1024);
    }

    [Fact]
    public void Sparse_copy_of_a_terabyte_image_copies_only_its_data_regions()
    {
        // Reading a terabyte of holes would take most of an hour; the copy must ask where the data is instead.
        const long TiB = 1L << 40;
        using var temp = new TempDirectory("sparse");
        var source = temp.Combine("source");
        var blocks = new (long Offset, byte Value, int Length)[] { (0, 3, 4096), (TiB / 2, 5, 3 * 4096), (TiB - 100, 7, 100) };
        using (var handle = File.OpenHandle(source, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, TiB);
            foreach (var (offset, value, length) in blocks)
            {
                RandomAccess.Write(handle, Enumerable.Repeat(value, length).ToArray(), offset);
            }
        }

        var target = temp.Combine("target");
        long written;
        using (var handle = File.OpenHandle(target, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, TiB + MiB);
            written = SparseCopy.Copy(source, handle, MiB);
        }

        Assert.Equal(4096 + (3 * 4096) + 4096, written);
        using var copy = File.OpenHandle(target, FileMode.Open, FileAccess.Read);
        foreach (var (offset, value, length) in blocks)
        {
            var read = new byte[length + 1];
            RandomAccess.Read(copy, read, MiB + offset);
            Assert.All(read[..length], b => Assert.Equal(value, b));
            Assert.Equal(0, read[length]);
        }

        Assert.True(Posix.GetStatus(target).AllocatedBytes <= MiB, $"the copy occupies {Posix.GetStatus(target).AllocatedBytes} bytes");
    }

    [Fact]
    public void Ext4_call_is_reproducible_and_complete()
    {
        var uuid = Guid.Parse("0b3ad7c6-1b1a-5d2f-9a61-5a0c4c2a1d11");
        var call = Ext4ImageBuilder.Describe("/out/state.img", new Ext4ImageSpec("COS_STATE", uuid, 64 * MiB)
        {
            SourceDirectory = "/src",
            InodeCount = 1000,
            ReservedPercent = 0,
            Timestamp = DateTimeOffset.FromUnixTimeSeconds(1700000000),
        }, offsetBytes: 3 * MiB);
        Assert.Equal("mkfs.ext4", call.Tool);
        Assert.Equal("e2fsprogs", call.Package);
        Assert.Equal(
            ["-q", "-F", "-T", "default", "-L", "COS_STATE", "-U", uuid.ToString(), "-E", $"root_owner=0:0,hash_seed={uuid},nodiscard,offset={3 * MiB}",
             "-N", "1000", "-m", "0", "-d", "/src", "/out/state.img", "65536k"],
            call.Arguments);
        Assert.Equal("1700000000", call.Environment!["E2FSPROGS_FAKE_TIME"]);
    }

    [Fact]
    public void Time_clamp_script_names_every_entry_quoted_and_skips_names_with_newlines()
    {
        using var temp = new TempDirectory("clamp");
        Directory.CreateDirectory(temp.Combine("a dir"));
        File.WriteAllText(temp.Combine("a dir", "we\"ird"), "x");
        File.WriteAllText(temp.Combine("new\nline"), "x");
        File.CreateSymbolicLink(temp.Combine("link"), "a dir");
        var call = Ext4ImageBuilder.DescribeTimeClamp("/out/disk.raw", temp.Path, DateTimeOffset.FromUnixTimeSeconds(42), offsetBytes: 1048576);
        Assert.Equal(["-w", "-f", "-", "/out/disk.raw?offset=1048576"], call.Arguments);
        using var reader = new StreamReader(call.StandardInput!);
        var script = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            ["sif \"/\" atime 42", "sif \"/\" ctime 42",
             "sif \"/a dir\" atime 42", "sif \"/a dir\" ctime 42",
             "sif \"/link\" atime 42", "sif \"/link\" ctime 42",
             "sif \"/a dir/we\"\"ird\" atime 42", "sif \"/a dir/we\"\"ird\" ctime 42"],
            script);
    }

    [Fact]
    public void Ext4_rejects_long_labels_and_unaligned_sizes()
    {
        Assert.Throws<ArgumentException>(() => Ext4ImageBuilder.Describe("/x", new Ext4ImageSpec("SEVENTEEN_CHARS_X", Guid.Empty, MiB)));
        Assert.Throws<ArgumentException>(() => Ext4ImageBuilder.Describe("/x", new Ext4ImageSpec("A", Guid.Empty, MiB + 512)));
    }

    [Fact]
    public void Squashfs_call_uses_xz_and_fixed_times()
    {
        var call = SquashfsImageBuilder.Describe("/out/r.squashfs", new SquashfsImageSpec("/root") { Timestamp = DateTimeOffset.FromUnixTimeSeconds(5), ClampFileTimes = true });
        Assert.Equal(["/root", "/out/r.squashfs", "-noappend", "-no-progress", "-quiet", "-comp", "xz", "-mkfs-time", "5", "-all-time", "5"], call.Arguments);
        Assert.Equal("squashfs-tools", call.Package);
    }

    [Fact]
    public void Vfat_calls_make_the_filesystem_then_directories_then_files()
    {
        var calls = VfatImageBuilder.Describe("/out/efi.img", new VfatImageSpec("COS_GRUB", 0x1234abcd, 64 * MiB)
        {
            Files = [new VfatFile("/b/grubx64.efi", "EFI/BOOT/BOOTX64.EFI"), new VfatFile("/b/grub.cfg", "EFI/BOOT/grub.cfg")],
        });
        Assert.Equal(["mkfs.vfat", "mmd", "mmd", "mcopy", "mcopy"], calls.Select(call => call.Tool));
        Assert.Equal(["--invariant", "-C", "/out/efi.img", "65536", "-n", "COS_GRUB", "-i", "1234abcd"], calls[0].Arguments);
        Assert.Equal(["-i", "/out/efi.img", "::/EFI"], calls[1].Arguments);
        Assert.Equal(["-i", "/out/efi.img", "::/EFI/BOOT"], calls[2].Arguments);
        Assert.Equal("::/EFI/BOOT/BOOTX64.EFI", calls[3].Arguments[^1]);
        Assert.All(calls, call => Assert.Equal("1", call.Environment!["MTOOLS_SKIP_CHECK"]));
    }

    [Fact]
    public void Vfat_rejects_paths_that_leave_the_image() =>
        Assert.Throws<ArgumentException>(() => VfatImageBuilder.Describe("/x", new VfatImageSpec("L", 1, MiB) { Files = [new VfatFile("/a", "../etc/passwd")] }));

    [Fact]
    public async Task Missing_builder_tools_fail_before_the_target_exists()
    {
        using var temp = new TempDirectory("builders");
        var runner = new FakeToolRunner();
        runner.Missing.UnionWith(["mkfs.ext4", "mksquashfs", "mcopy"]);
        var ext4 = await Assert.ThrowsAsync<ToolNotFoundException>(() => new Ext4ImageBuilder(runner).BuildAsync(temp.Combine("a.img"), new Ext4ImageSpec("A", Guid.Empty, MiB)));
        Assert.Equal("e2fsprogs", ext4.Package);
        var squash = await Assert.ThrowsAsync<ToolNotFoundException>(() => new SquashfsImageBuilder(runner).BuildAsync(temp.Combine("b.sqfs"), new SquashfsImageSpec(temp.Path)));
        Assert.Equal("squashfs-tools", squash.Package);
        var vfat = await Assert.ThrowsAsync<ToolNotFoundException>(() => new VfatImageBuilder(runner).BuildAsync(temp.Combine("c.img"), new VfatImageSpec("C", 1, MiB)));
        Assert.Equal("mtools", vfat.Package);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
        Assert.Empty(runner.Calls);
    }

    [Fact]
    public async Task A_failing_tool_becomes_a_typed_error_with_its_stderr_and_leaves_no_file()
    {
        using var temp = new TempDirectory("builders");
        var runner = new FakeToolRunner { Respond = call => throw new ToolFailedException(call.CommandLine, 1, "mkfs.ext4: Could not allocate block in ext2 filesystem") };
        var error = await Assert.ThrowsAsync<FileSystemBuildException>(() => new Ext4ImageBuilder(runner).BuildAsync(temp.Combine("a.img"), new Ext4ImageSpec("A", Guid.Empty, MiB)));
        Assert.Contains("Could not allocate block", error.StandardError, StringComparison.Ordinal);
        Assert.Equal("filesystem-build-failed", error.Kind);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public void Directory_tree_counts_blocks_inodes_and_hard_links_once()
    {
        using var temp = new TempDirectory("tree");
        Directory.CreateDirectory(temp.Combine("d", "e"));
        File.WriteAllBytes(temp.Combine("d", "small"), new byte[10]);
        File.WriteAllBytes(temp.Combine("d", "e", "big"), new byte[5000]);
        Posix.CreateHardLink(temp.Combine("d", "small"), temp.Combine("d", "small-link"));
        File.CreateSymbolicLink(temp.Combine("short"), "d");
        File.CreateSymbolicLink(temp.Combine("long"), new string('x', 80));
        var size = DirectoryTree.Measure(temp.Path);
        Assert.Equal(2, size.Files);
        Assert.Equal(3, size.Directories);
        Assert.Equal(2, size.Symlinks);
        Assert.Equal(7, size.Inodes);
        Assert.Equal(10 + 5000 + 1 + 80, size.ApparentBytes);
        Assert.Equal((4096 + 8192) + 4096 + (3 * 4096), size.BlockBytes);
    }

    [Fact]
    public void Measuring_a_missing_directory_is_a_typed_error() =>
        Assert.Throws<DiskSourceNotFoundException>(() => DirectoryTree.Measure("/nonexistent/basalt"));
}
