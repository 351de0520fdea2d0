using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;

namespace Basalt.Disk.Tests.Unit;

public sealed class LayoutTests
{
    private const long MiB = 1024 * 1024;
    private static readonly KairosSizingInputs Inputs = new(ActiveImageBytes: 1536 * MiB, RecoveryImageBytes: 600 * MiB);

    [Fact]
    public void Kairos_layout_has_the_compatibility_labels_in_order()
    {
        var layout = KairosLayout.Create(Inputs, "seed");
        Assert.Equal(["COS_GRUB", "COS_OEM", "COS_RECOVERY", "COS_STATE", "COS_PERSISTENT"], layout.Partitions.Select(partition => partition.Label));
        Assert.Equal(PartitionTypes.EfiSystem, layout.Partitions[0].TypeGuid);
        Assert.Equal(FileSystemKind.Vfat, layout.Partitions[0].FileSystem);
        Assert.All(layout.Partitions.Skip(1), partition =>
        {
            Assert.Equal(PartitionTypes.LinuxFilesystem, partition.TypeGuid);
            Assert.Equal(FileSystemKind.Ext4, partition.FileSystem);
        });
        Assert.True(layout.Partitions[^1].Size.Fill);
        Assert.Equal(64 * MiB, layout.Partitions[0].Size.Bytes);
        Assert.Equal(64 * MiB, layout.Partitions[1].Size.Bytes);
    }

    [Fact]
    public void State_holds_active_passive_and_transition_plus_headroom_and_ext4_overhead()
    {
        var state = KairosLayout.StateBytes(Inputs);
        var images = 3 * Inputs.ActiveImageBytes;
        Assert.True(state >= images + (images / 10), $"state {state} must hold {images} plus 10%");
        Assert.True(state <= images * 13 / 10, $"state {state} should not waste more than 30% over {images}");
        Assert.Equal(0, state % MiB);
    }

    [Fact]
    public void Recovery_holds_the_squashfs_and_a_transition_copy_plus_headroom()
    {
        var recovery = KairosLayout.RecoveryBytes(Inputs);
        Assert.True(recovery >= (2 * Inputs.RecoveryImageBytes) + (64 * MiB));
        Assert.True(recovery < 3 * Inputs.RecoveryImageBytes);
    }

    [Theory]
    [InlineData(0L, 64L)]
    [InlineData(10 * MiB, 64L)]
    [InlineData(100 * MiB, 121L)]
    public void Efi_partition_is_at_least_64_MiB_and_grows_with_its_content(long content, long expectedMiB) =>
        Assert.Equal(expectedMiB * MiB, KairosLayout.EfiBytes(Inputs with { EfiContentBytes = content }));

    [Fact]
    public void Headroom_minimum_applies_to_tiny_images()
    {
        var tiny = new KairosSizingInputs(ActiveImageBytes: MiB, RecoveryImageBytes: MiB);
        Assert.True(KairosLayout.StateBytes(tiny) >= (3 * MiB) + (64 * MiB));
    }

    [Fact]
    public void Policy_changes_the_sizes()
    {
        var lean = new KairosSizingPolicy { StateImageSlots = 2, HeadroomPercent = 0, HeadroomMinimumBytes = 0 };
        Assert.True(KairosLayout.StateBytes(Inputs, lean) < KairosLayout.StateBytes(Inputs));
        Assert.True(KairosLayout.StateBytes(Inputs, lean) >= 2 * Inputs.ActiveImageBytes);
    }

    [Fact]
    public void Minimum_disk_is_the_sum_of_aligned_partitions_plus_gpt_areas()
    {
        var layout = KairosLayout.Create(Inputs, "seed");
        var sum = layout.Partitions.Sum(partition => partition.Size.Bytes);
        Assert.Equal(MiB + sum + MiB, layout.MinimumDiskBytes);
    }

    [Fact]
    public void Resolving_without_a_size_gives_the_minimum_and_fill_gets_its_minimum()
    {
        var layout = KairosLayout.Create(Inputs, "seed");
        var resolved = layout.Resolve();
        Assert.Equal(layout.MinimumDiskBytes, resolved.DiskBytes);
        Assert.Equal(256 * MiB, resolved.Get("COS_PERSISTENT").SizeBytes);
    }

    [Fact]
    public void Persistent_content_a_build_puts_there_raises_the_persistent_minimum_and_the_disk_minimum()
    {
        var empty = KairosLayout.Create(Inputs, "seed");
        var seeded = KairosLayout.Create(Inputs with { PersistentContentBytes = 900 * MiB }, "seed");

        var persistent = seeded.Resolve().Get("COS_PERSISTENT").SizeBytes;
        Assert.Equal(Ext4Sizing.CapacityFor(900 * MiB), persistent);
        Assert.True(persistent > 900 * MiB);
        Assert.Equal(empty.MinimumDiskBytes - (256 * MiB) + persistent, seeded.MinimumDiskBytes);
        // A disk that held the empty layout is now refused before anything is written.
        Assert.Throws<DiskTooSmallException>(() => seeded.Resolve(empty.MinimumDiskBytes));
        // A persistent size asked for must hold the content too.
        var asked = new KairosPartitionSettings { Sizes = new Dictionary<string, long> { ["COS_PERSISTENT"] = 512 * MiB } };
        var error = Assert.Throws<PartitionTooSmallException>(() => KairosLayout.Create(Inputs with { PersistentContentBytes = 900 * MiB }, "seed", asked));
        Assert.Contains("COS_PERSISTENT", error.Message, StringComparison.Ordinal);
        // Small content leaves the policy's minimum.
        Assert.Equal(256 * MiB, KairosLayout.Create(Inputs with { PersistentContentBytes = MiB }, "seed").Resolve().Get("COS_PERSISTENT").SizeBytes);
    }

    [Fact]
    public void Partitions_are_contiguous_and_aligned_to_one_MiB()
    {
        var resolved = KairosLayout.Create(Inputs, "seed").Resolve(20L * 1024 * MiB);
        Assert.Equal(2048, resolved.Partitions[0].FirstLba);
        for (var index = 0; index < resolved.Partitions.Count; index++)
        {
            var partition = resolved.Partitions[index];
            Assert.Equal(index + 1, partition.Number);
            Assert.Equal(0, partition.OffsetBytes % MiB);
            Assert.Equal(0, partition.SizeBytes % MiB);
            if (index > 0)
            {
                Assert.Equal(resolved.Partitions[index - 1].LastLba + 1, partition.FirstLba);
            }
        }
    }

    [Fact]
    public void Fill_takes_the_rest_up_to_the_last_MiB_before_the_backup_gpt()
    {
        var disk = 20L * 1024 * MiB;
        var resolved = KairosLayout.Create(Inputs, "seed").Resolve(disk);
        var persistent = resolved.Get("COS_PERSISTENT");
        Assert.Equal(disk - MiB, persistent.OffsetBytes + persistent.SizeBytes);
        Assert.True(persistent.LastLba <= GptGeometry.LastUsableLba(disk / 512));
    }

    [Fact]
    public void An_unaligned_disk_size_keeps_the_fill_partition_on_MiB_boundaries()
    {
        var layout = KairosLayout.Create(Inputs, "seed");
        var resolved = layout.Resolve(layout.MinimumDiskBytes + 512 * 7);
        Assert.Equal(0, resolved.Get("COS_PERSISTENT").SizeBytes % MiB);
        Assert.True(resolved.Get("COS_PERSISTENT").SizeBytes >= 256 * MiB);
        Assert.NotNull(GptWriter.Build(resolved.ToGpt()));
    }

    [Fact]
    public void Too_small_a_disk_is_rejected_and_the_message_says_the_minimum()
    {
        var layout = KairosLayout.Create(Inputs, "seed");
        var error = Assert.Throws<DiskTooSmallException>(() => layout.Resolve(layout.MinimumDiskBytes - MiB));
        Assert.Equal(layout.MinimumDiskBytes, error.MinimumBytes);
        Assert.Equal("disk-too-small", error.Kind);
        Assert.Contains(layout.MinimumDiskBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Contains($"--size {ByteSize.FormatMebibytes(layout.MinimumDiskBytes)}", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Exactly_the_minimum_is_accepted()
    {
        var layout = KairosLayout.Create(Inputs, "seed");
        Assert.Equal(layout.MinimumDiskBytes, layout.Resolve(layout.MinimumDiskBytes).DiskBytes);
    }

    [Fact]
    public void Guids_follow_the_seed()
    {
        var first = KairosLayout.Create(Inputs, "seed").Resolve(8L * 1024 * MiB);
        var again = KairosLayout.Create(Inputs, "seed").Resolve(8L * 1024 * MiB);
        var other = KairosLayout.Create(Inputs, "other").Resolve(8L * 1024 * MiB);
        Assert.Equal(first.DiskGuid, again.DiskGuid);
        Assert.Equal(first.Partitions.Select(p => (p.PartitionGuid, p.FileSystemUuid)), again.Partitions.Select(p => (p.PartitionGuid, p.FileSystemUuid)));
        Assert.NotEqual(first.DiskGuid, other.DiskGuid);
        Assert.Equal(5, first.Partitions.Select(p => p.PartitionGuid).Concat(first.Partitions.Select(p => p.FileSystemUuid)).Distinct().Count() / 2);
        Assert.Equal(DeterministicGuid.Create("seed", "partition:COS_STATE"), first.Get("COS_STATE").PartitionGuid);
    }

    [Fact]
    public void Explicit_filesystem_uuid_and_label_win()
    {
        var uuid = Guid.Parse("01234567-89ab-4def-8123-456789abcdef");
        var layout = new DiskLayout("s", [new PartitionSpec("DATA", FileSystemKind.Ext4, PartitionSize.Fixed(10 * MiB), PartitionTypes.LinuxFilesystem) { FileSystemUuid = uuid, FileSystemLabel = "data" }]);
        var placed = layout.Resolve().Get("DATA");
        Assert.Equal(uuid, placed.FileSystemUuid);
        Assert.Equal("data", placed.FileSystemLabel);
    }

    [Fact]
    public void Sizes_are_rounded_up_to_MiB()
    {
        var layout = new DiskLayout("s", [new PartitionSpec("A", FileSystemKind.None, PartitionSize.Fixed(MiB + 1), PartitionTypes.LinuxFilesystem)]);
        Assert.Equal(2 * MiB, layout.Resolve().Get("A").SizeBytes);
    }

    [Fact]
    public void Fill_in_the_middle_leaves_room_for_the_partitions_after_it()
    {
        var layout = new DiskLayout("s",
        [
            new PartitionSpec("A", FileSystemKind.Ext4, PartitionSize.FillRest(MiB), PartitionTypes.LinuxFilesystem),
            new PartitionSpec("B", FileSystemKind.Ext4, PartitionSize.Fixed(3 * MiB), PartitionTypes.LinuxFilesystem),
        ]);
        var resolved = layout.Resolve(100 * MiB);
        Assert.Equal(95 * MiB, resolved.Get("A").SizeBytes);
        Assert.Equal(3 * MiB, resolved.Get("B").SizeBytes);
        Assert.Equal(99 * MiB, resolved.Get("B").OffsetBytes + resolved.Get("B").SizeBytes);
    }

    public static TheoryData<DiskLayout, string> InvalidLayouts => new()
    {
        { new DiskLayout("s", []), "no partitions" },
        { new DiskLayout("s", [Spec("A", PartitionSize.FillRest(0)), Spec("B", PartitionSize.FillRest(0))]), "more than one" },
        { new DiskLayout("s", [Spec("A", PartitionSize.Fixed(MiB)), Spec("A", PartitionSize.Fixed(MiB))]), "used twice" },
        { new DiskLayout("s", [Spec("A", PartitionSize.Fixed(0))]), "size 0" },
        { new DiskLayout("s", [Spec(new string('x', 37), PartitionSize.Fixed(MiB))]), "1 to 36" },
        { new DiskLayout("s", [Spec("A", PartitionSize.Fixed(MiB)) with { FileSystemLabel = "SEVENTEEN_CHARS_X" }]), "longer than 16" },
        { new DiskLayout("s", [new PartitionSpec("EFI", FileSystemKind.Vfat, PartitionSize.Fixed(MiB), PartitionTypes.EfiSystem) { FileSystemLabel = "TWELVE_CHARS" }]), "longer than 11" },
        { new DiskLayout("s", [new PartitionSpec("A", FileSystemKind.Ext4, PartitionSize.Fixed(MiB), Guid.Empty)]), "no type GUID" },
    };

    [Theory]
    [MemberData(nameof(InvalidLayouts))]
    public void Invalid_layouts_are_rejected_with_the_reason(DiskLayout layout, string reason)
    {
        var error = Assert.Throws<InvalidLayoutException>(() => layout.Resolve());
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disk_size_that_is_not_whole_sectors_is_rejected()
    {
        var layout = new DiskLayout("s", [Spec("A", PartitionSize.Fixed(MiB))]);
        Assert.Throws<InvalidLayoutException>(() => layout.Resolve((10 * MiB) + 1));
    }

    [Fact]
    public void Resolved_layout_converts_to_a_gpt_with_the_same_geometry()
    {
        var resolved = KairosLayout.Create(Inputs, "seed").Resolve(8L * 1024 * MiB);
        var gpt = resolved.ToGpt();
        Assert.Equal(resolved.DiskGuid, gpt.DiskGuid);
        Assert.Equal(8L * 1024 * 2048, gpt.TotalSectors);
        Assert.Equal(resolved.Partitions.Select(p => (p.Label, p.FirstLba, p.LastLba)), gpt.Partitions.Select(p => (p.Name, p.FirstLba, p.LastLba)));
        Assert.Throws<PartitionNotFoundException>(() => resolved.Get("COS_NOPE"));
    }

    private static PartitionSpec Spec(string label, PartitionSize size) => new(label, FileSystemKind.Ext4, size, PartitionTypes.LinuxFilesystem);
}

public sealed class SizingTests
{
    private const long MiB = 1024 * 1024;

    [Theory]
    [InlineData(4 * MiB, 0L)]
    [InlineData(8 * MiB, 4 * MiB)]
    [InlineData(200 * MiB, 16 * MiB)]
    [InlineData(1536 * MiB, 32 * MiB)]
    [InlineData(10L * 1024 * MiB, 64 * MiB)]
    [InlineData(20L * 1024 * MiB, 128 * MiB)]
    [InlineData(500L * 1024 * MiB, 1024 * MiB)]
    public void Journal_follows_mke2fs_defaults(long fileSystemBytes, long journalBytes) =>
        Assert.Equal(journalBytes, Ext4Sizing.JournalBytes(fileSystemBytes));

    [Theory]
    [InlineData(0L)]
    [InlineData(MiB)]
    [InlineData(100 * MiB)]
    [InlineData(3L * 1536 * MiB)]
    [InlineData(50L * 1024 * MiB)]
    public void Capacity_leaves_the_payload_free_after_reserve_inodes_and_journal(long payload)
    {
        var size = Ext4Sizing.CapacityFor(payload);
        var usable = size - (size * 5 / 100) - (size / 16384 * 256) - Ext4Sizing.JournalBytes(size);
        Assert.True(usable >= payload, $"{size} leaves {usable} < {payload}");
        Assert.Equal(0, size % MiB);
        Assert.True(size <= (payload * 1.1) + (32 * MiB), $"{size} is wasteful for {payload}");
    }

    [Fact]
    public void Capacity_with_an_inode_count_pays_for_that_many_inodes()
    {
        var withInodes = Ext4Sizing.CapacityFor(100 * MiB, inodeCount: 100_000, reservedPercent: 0);
        var plain = Ext4Sizing.CapacityFor(100 * MiB, inodeCount: 1, reservedPercent: 0);
        Assert.True(withInodes - plain >= 100_000L * 256 - MiB);
    }

    [Fact]
    public void Estimate_for_a_tree_adds_headroom_and_spare_inodes()
    {
        var tree = new DirectoryTreeSize(ApparentBytes: 90 * MiB, BlockBytes: 100 * MiB, Files: 8000, Directories: 1000, Symlinks: 900, OtherNodes: 100);
        var estimate = Ext4Sizing.ForTree(tree);
        Assert.True(estimate.InodeCount >= 12_500);
        Assert.True(estimate.ImageBytes >= 110 * MiB + (estimate.InodeCount * 256));
    }

    [Theory]
    [InlineData("512", 512L)]
    [InlineData("64K", 64 * 1024L)]
    [InlineData("300M", 300 * MiB)]
    [InlineData("8G", 8L * 1024 * MiB)]
    [InlineData("8GiB", 8L * 1024 * MiB)]
    [InlineData("1T", 1024L * 1024 * MiB)]
    public void Sizes_parse_with_binary_suffixes(string text, long bytes) => Assert.Equal(bytes, ByteSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-5M")]
    [InlineData("1.5G")]
    public void Bad_sizes_do_not_parse(string text)
    {
        var error = Record.Exception(() => ByteSize.Parse(text));
        Assert.True(error is FormatException or ArgumentException, $"'{text}' gave {error?.GetType().Name ?? "no error"}");
    }

    [Theory]
    [InlineData(512L, "512 B")]
    [InlineData(64 * MiB, "64 MiB")]
    [InlineData(1536 * MiB, "1.5 GiB")]
    public void Sizes_format_for_people(long bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));
}
