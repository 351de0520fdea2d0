using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Recovery;
using Basalt.Agent.Slots;
using Basalt.Agent.Tests.Upgrade;
using Basalt.Agent.Upgrade;
using Basalt.Oci.Images;
using Basalt.Oci.Model;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Recovery;

/// <summary><c>basalt upgrade --recovery</c> on a node whose partitions are directories, with the real mksquashfs.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class RecoveryUpgradeTests
{
    private static RecoveryUpgradeService Service(FakeNode node, RegistryClient registry, Func<string, FileSystemSpace>? space = null, IJournalCheckpoint? checkpoint = null) => new(
        node.Paths,
        new ImageService(new BlobStore(node.Paths.BlobStore), registry),
        new ToolRunner(),
        new SlotStore(node.Paths.SlotsFile),
        node.History,
        space,
        checkpoint: checkpoint);

    private static string MakeTree(FakeNode node, string version)
    {
        var root = node.Combine("source-" + version);
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc", "version"), version);
        return "dir:" + root;
    }

    private static async Task<string> ReadFromSquashfs(string squashfs, string path)
    {
        var result = await new ToolRunner().RunAsync(new ToolInvocation("unsquashfs", ["-cat", squashfs, path]) { Package = "squashfs-tools" });
        return result.StandardOutput;
    }

    [Fact]
    public async Task The_recovery_image_is_replaced_whole_and_recorded_and_the_same_digest_is_a_no_op()
    {
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("unsquashfs", "squashfs-tools");
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        Directory.CreateDirectory(Path.GetDirectoryName(node.Paths.RecoverySquashfs)!);
        await File.WriteAllTextAsync(node.Paths.RecoverySquashfs, "the old recovery image");
        await new SlotStore(node.Paths.SlotsFile).WriteAsync(SlotTable.From([new SlotInfo(SlotNames.Active, "os:v1", "sha256:" + new string('a', 64), null, DateTimeOffset.UnixEpoch)]));
        var source = MakeTree(node, "R2");
        var checkpoint = new RecordingJournalCheckpoint(_ => Assert.Equal("R2", ReadFromSquashfs(node.Paths.RecoverySquashfs, "etc/version").GetAwaiter().GetResult()));

        var result = await Service(node, registry, checkpoint: checkpoint).UpgradeAsync(source);

        Assert.True(result.Changed);
        Assert.Equal([Path.GetDirectoryName(node.Paths.RecoverySquashfs)!], checkpoint.Paths);
        Assert.Equal("R2", await ReadFromSquashfs(node.Paths.RecoverySquashfs, "etc/version"));
        Assert.Equal(new FileInfo(node.Paths.RecoverySquashfs).Length, result.ImageBytes);
        // Squashed on the node with gzip, which GRUB's squash4 reads.
        var superblock = await new ToolRunner().RunAsync(new ToolInvocation("unsquashfs", ["-s", node.Paths.RecoverySquashfs]) { Package = "squashfs-tools" });
        Assert.Contains("Compression gzip", superblock.StandardOutput, StringComparison.Ordinal);
        var slots = await new SlotStore(node.Paths.SlotsFile).ReadAsync();
        Assert.Equal(result.Plan.Digest, slots.Recovery?.Digest);
        Assert.Equal("os:v1", slots.Active?.ImageReference);
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging-recovery")));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(node.Paths.RecoverySquashfs)!, "*.tmp*"));

        var bytes = await File.ReadAllBytesAsync(node.Paths.RecoverySquashfs);
        var again = await Service(node, registry).UpgradeAsync(source);

        Assert.False(again.Changed);
        Assert.True(again.Plan.NoOp);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(node.Paths.RecoverySquashfs));
        var history = await node.History.ReadAsync();
        Assert.Equal(
            [(LifecycleOperations.RecoveryUpgrade, LifecycleOperations.Succeeded), (LifecycleOperations.RecoveryUpgrade, LifecycleOperations.NoOp)],
            history.Select(r => (r.Operation, r.Outcome)));
    }

    [Fact]
    public async Task The_blob_store_then_keeps_only_the_images_the_slots_hold()
    {
        Requires.Tool("mksquashfs", "squashfs-tools");
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var slots = new SlotStore(node.Paths.SlotsFile);
        var store = new BlobStore(node.Paths.BlobStore);
        Directory.CreateDirectory(Path.GetDirectoryName(node.Paths.RecoverySquashfs)!);
        await slots.WriteAsync(SlotTable.From([new SlotInfo(SlotNames.Active, "os:v1", "sha256:" + new string('a', 64), null, DateTimeOffset.UnixEpoch)]));
        var a = await Service(node, registry).UpgradeAsync(MakeTree(node, "A"));
        // The node now runs A as well: active and recovery share it.
        await slots.WriteAsync((await slots.ReadAsync()).With(new SlotInfo(SlotNames.Active, "os:A", a.Plan.Digest, null, DateTimeOffset.UnixEpoch)));
        var b = await Service(node, registry).UpgradeAsync(MakeTree(node, "B"));
        Assert.Equal(0, b.BlobsRemoved); // A left recovery but active still runs it
        node.AgeBlobStore();

        var c = await Service(node, registry).UpgradeAsync(MakeTree(node, "C"));

        // B, which only recovery held, is gone with its name; A (active) and C (recovery) stay.
        Assert.False(store.Contains(Digest.Parse(b.Plan.Digest)));
        Assert.True(store.Contains(Digest.Parse(a.Plan.Digest)));
        Assert.True(store.Contains(Digest.Parse(c.Plan.Digest)));
        Assert.Equal(3, c.BlobsRemoved); // B's manifest, config and layer
        Assert.True(c.BlobBytesFreed > 0);
        Assert.Equal(2, store.ListReferences().Count);
    }

    [Fact]
    public async Task Without_a_recorded_active_image_the_blob_store_is_left_alone()
    {
        Requires.Tool("mksquashfs", "squashfs-tools");
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var store = new BlobStore(node.Paths.BlobStore);
        Directory.CreateDirectory(Path.GetDirectoryName(node.Paths.RecoverySquashfs)!);
        await new SlotStore(node.Paths.SlotsFile).WriteAsync(SlotTable.From([new SlotInfo(SlotNames.Passive, "os:v0", "sha256:" + new string('b', 64), null, DateTimeOffset.UnixEpoch)]));
        var a = await Service(node, registry).UpgradeAsync(MakeTree(node, "A"));
        node.AgeBlobStore();

        var b = await Service(node, registry).UpgradeAsync(MakeTree(node, "B"));

        // The running system's image is unknown: its blobs may be A's, so nothing goes.
        Assert.Equal(0, b.BlobsRemoved);
        Assert.True(store.Contains(Digest.Parse(a.Plan.Digest)));
        Assert.True(store.Contains(Digest.Parse(b.Plan.Digest)));
    }

    [Fact]
    public async Task Too_little_room_on_the_recovery_partition_leaves_the_old_image_and_no_leftovers()
    {
        Requires.Tool("mksquashfs", "squashfs-tools");
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        Directory.CreateDirectory(Path.GetDirectoryName(node.Paths.RecoverySquashfs)!);
        await File.WriteAllTextAsync(node.Paths.RecoverySquashfs, "the old recovery image");

        var error = await Assert.ThrowsAsync<NotEnoughSpaceException>(() =>
            Service(node, registry, _ => new FileSystemSpace(1L << 30, 1024)).UpgradeAsync(MakeTree(node, "R2")));

        Assert.Equal("COS_RECOVERY", error.Partition);
        Assert.Equal("the old recovery image", await File.ReadAllTextAsync(node.Paths.RecoverySquashfs));
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging-recovery")));
        var record = Assert.Single(await node.History.ReadAsync());
        Assert.Equal(LifecycleOperations.Failed, record.Outcome);
    }
}

/// <summary>How COS_RECOVERY is reached: as it is, from the live mount in recovery, or not at all with a clear error.</summary>
public sealed class RecoveryPartitionAccessTests
{
    [Fact]
    public async Task A_directory_that_holds_a_recovery_image_is_used_as_it_is()
    {
        using var node = new FakeNode();
        Directory.CreateDirectory(Path.GetDirectoryName(node.Paths.RecoverySquashfs)!);
        await File.WriteAllTextAsync(node.Paths.RecoverySquashfs, "image");

        await using var access = await RecoveryPartitionAccess.OpenAsync(node.Tools, node.Paths, writable: true, node.Combine("dev-disk"));

        Assert.Equal(node.Paths.RecoveryMount, access.Paths.RecoveryMount);
        Assert.Empty(node.Tools.Calls);
    }

    [Fact]
    public async Task Writing_the_recovery_image_while_running_from_it_is_refused()
    {
        using var node = new FakeNode();
        var paths = node.Paths with { SentinelDirectory = node.Combine("run-cos") };
        Directory.CreateDirectory(paths.SentinelDirectory);
        await File.WriteAllTextAsync(Path.Combine(paths.SentinelDirectory, "recovery_mode"), "1");

        var error = await Assert.ThrowsAsync<RecoveryPartitionUnavailableException>(() => RecoveryPartitionAccess.OpenAsync(node.Tools, paths, writable: true, node.Combine("dev-disk")));

        Assert.Contains("booted into recovery", error.Message, StringComparison.Ordinal);
        Assert.Empty(node.Tools.Calls);
    }

    [Fact]
    public async Task No_recovery_partition_is_a_typed_error_before_anything_is_mounted()
    {
        using var node = new FakeNode();

        var error = await Assert.ThrowsAsync<RecoveryPartitionUnavailableException>(() => RecoveryPartitionAccess.OpenAsync(node.Tools, node.Paths, writable: false, node.Combine("dev-disk")));

        Assert.Contains("COS_RECOVERY", error.Message, StringComparison.Ordinal);
        Assert.Empty(node.Tools.Calls);
    }

    [Fact]
    public async Task A_partition_found_by_label_is_mounted_for_the_span_of_the_access()
    {
        using var node = new FakeNode();
        var devices = node.Combine("dev-disk");
        Directory.CreateDirectory(Path.Combine(devices, "by-label"));
        await File.WriteAllTextAsync(Path.Combine(devices, "by-label", "COS_RECOVERY"), string.Empty);
        var tools = new MountingTools();

        await using (var access = await RecoveryPartitionAccess.OpenAsync(tools, node.Paths, writable: true, devices))
        {
            Assert.Equal(node.Paths.RecoveryMount, access.Paths.RecoveryMount);
        }

        Assert.Equal([$"mount -o rw {Path.Combine(devices, "by-label", "COS_RECOVERY")} {node.Paths.RecoveryMount}", $"umount {node.Paths.RecoveryMount}"], tools.Calls);
    }

    private sealed class MountingTools : IToolRunner
    {
        public List<string> Calls { get; } = [];

        public string? Locate(string tool) => "/usr/bin/" + tool;

        public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
        {
            Calls.Add(invocation.CommandLine);
            return Task.FromResult(new ToolResult(0, string.Empty, string.Empty, TimeSpan.Zero));
        }
    }
}
