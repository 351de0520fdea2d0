using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Agent.Rollback;
using Basalt.Agent.Slots;
using Basalt.Agent.Upgrade;
using Basalt.Boot.Grub;
using Basalt.Disk.FileSystems;
using Basalt.Oci.Images;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>
/// Upgrades with the real tools against Debian's docker-registry: v1 (one layer) and v2 (v1's layer plus one small
/// layer with a marker file) built with umoci and pushed with skopeo; real ext4 slot images on a node made of temp dirs.
/// </summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class UpgradeAgainstRegistryTests : IClassFixture<RegistryFixture>
{
    private readonly RegistryFixture _registry;
    private readonly ToolRunner _runner = new();

    public UpgradeAgainstRegistryTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Fact]
    public async Task Staged_tree_upgrade_v1_to_v2_swaps_real_images_fetches_only_the_new_layer_and_a_repeat_is_a_no_op()
    {
        RequireTools();
        using var temp = new TempDirectory("agent-upgrade-registry");
        var (v1, v2) = await PushImagesAsync(temp, "upgrade/os");
        var paths = await MakeNodeAsync(temp, temp.Combine("node"));
        using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string> { _registry.Host } });
        var images = new ImageService(new BlobStore(paths.BlobStore), client);
        var slots = new SlotStoreRecords(new SlotStore(paths.SlotsFile));
        var history = new FileLifecycleHistory(paths.History);
        var service = new UpgradeService(paths, images, _runner, slots, history, options: new UpgradeServiceOptions { StreamLayersIntoImage = false });

        var first = await service.UpgradeAsync(new UpgradeRequest(v1));
        Assert.True(first.Changed);
        Assert.Equal("v1", await ReadFileAsync(paths.ActiveImage, "/etc/version"));
        Assert.Equal("factory", await ReadFileAsync(paths.PassiveImage, "/etc/version"));

        var second = await service.UpgradeAsync(new UpgradeRequest(v2, BootTries: 2));

        Assert.True(second.Changed);
        Assert.Equal("v2", await ReadFileAsync(paths.ActiveImage, "/etc/version"));
        Assert.Equal("marker of v2", await ReadFileAsync(paths.ActiveImage, "/etc/marker"));
        // v2 started from v1's kept tree and applied only its own layer, whose whiteout removed v1's file.
        Assert.Equal(1, second.LayersReused);
        Assert.False(await ExistsAsync(paths.ActiveImage, "/etc/obsolete"));
        Assert.True(await ExistsAsync(paths.PassiveImage, "/etc/obsolete"));
        Assert.Equal([second.Plan.ChainId!], service.KeptTrees.List());
        // The kept tree is the tree a full unpack of v2 gives (what a node without a kept tree would have built from).
        var cold = temp.Combine("cold-v2");
        await images.UnpackAsync(Basalt.Oci.References.ImageSource.Parse(v2), cold);
        TreeSnapshot.AssertEqual(TreeSnapshot.Capture(cold), TreeSnapshot.Capture(service.KeptTrees.PathOf(second.Plan.ChainId!)));
        Assert.Equal("v1", await ReadFileAsync(paths.PassiveImage, "/etc/version"));
        Assert.Equal(SlotLabels.Active, await E2LabelAsync(paths.ActiveImage));
        Assert.Equal(SlotLabels.Passive, await E2LabelAsync(paths.PassiveImage));
        Assert.Equal(SlotLabels.Active, SlotImageFiles.ReadLabel(paths.ActiveImage));
        await FsckAsync(paths.ActiveImage);
        await FsckAsync(paths.PassiveImage);
        // v1's layer is on the node already: only v2's small layer travels (its config came with the preflight).
        Assert.Equal(1, second.Plan.LayersPresent);
        Assert.Equal(1, second.BlobsTransferred);
        Assert.Equal(second.Plan.DownloadBytes, second.BytesTransferred);
        Assert.True(second.BytesTransferred < first.BytesTransferred / 2, $"{second.BytesTransferred} bytes fetched for v2 against {first.BytesTransferred} for v1");
        var grub = GrubEnvironment.Load(paths.GrubEnvironment);
        Assert.Equal("2", grub.Get(GrubEnvironmentKeys.ActiveTriesLeft));
        Assert.Equal(second.Plan.Digest, slots.ReadActive()?.Digest);
        Assert.Equal(first.Plan.Digest, slots.ReadPassive()?.Digest);
        Assert.False(File.Exists(paths.Journal));
        Assert.False(File.Exists(paths.TransitionImage));

        var before = Posix.GetStatus(paths.ActiveImage);
        var repeat = await service.UpgradeAsync(new UpgradeRequest(v2));

        Assert.True(repeat.Plan.NoOp);
        Assert.False(repeat.Changed);
        Assert.Equal(0, repeat.BytesTransferred);
        var after = Posix.GetStatus(paths.ActiveImage);
        Assert.Equal((before.Inode, before.ModifiedTime), (after.Inode, after.ModifiedTime));
        Assert.Equal(
            [LifecycleOperations.Succeeded, LifecycleOperations.Succeeded, LifecycleOperations.NoOp],
            (await history.ReadAsync()).Select(r => r.Outcome).ToArray());

        var rollback = await new RollbackService(paths, _runner, slots, history).RollbackAsync();
        Assert.Equal(first.Plan.Digest, rollback.Active?.Digest);
        Assert.Equal("v1", await ReadFileAsync(paths.ActiveImage, "/etc/version"));
        Assert.Equal("v2", await ReadFileAsync(paths.PassiveImage, "/etc/version"));
        Assert.Equal(SlotLabels.Active, await E2LabelAsync(paths.ActiveImage));
        Assert.Equal(SlotLabels.Passive, await E2LabelAsync(paths.PassiveImage));
        await FsckAsync(paths.ActiveImage);
    }

    [Fact]
    public async Task Streamed_upgrade_writes_the_tree_a_directory_unpack_gives_keeps_no_tree_fetches_only_the_new_layer_and_rolls_back()
    {
        RequireTools();
        Requires.Tool("mount", "mount");
        Requires.Tool("e2fsck", "e2fsprogs");
        using var temp = new TempDirectory("agent-upgrade-streamed");
        var (v1, v2) = await PushImagesAsync(temp, "streamed/os");
        var paths = await MakeNodeAsync(temp, temp.Combine("node"));
        using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string> { _registry.Host } });
        var images = new ImageService(new BlobStore(paths.BlobStore), client);
        var slots = new SlotStoreRecords(new SlotStore(paths.SlotsFile));
        var history = new FileLifecycleHistory(paths.History);
        var service = new UpgradeService(paths, images, _runner, slots, history);

        var first = await service.UpgradeAsync(new UpgradeRequest(v1));
        var second = await service.UpgradeAsync(new UpgradeRequest(v2));

        Assert.True(first.Plan.Streamed && second.Plan.Streamed);
        Assert.Contains(UpgradePlanner.StreamStep, second.Plan.Steps);
        Assert.DoesNotContain("unpack-to-staging", second.Plan.Steps);
        Assert.Equal("v2", await ReadFileAsync(paths.ActiveImage, "/etc/version"));
        Assert.Equal("marker of v2", await ReadFileAsync(paths.ActiveImage, "/etc/marker"));
        Assert.False(await ExistsAsync(paths.ActiveImage, "/etc/obsolete"));
        Assert.Equal("v1", await ReadFileAsync(paths.PassiveImage, "/etc/version"));
        Assert.Equal(SlotLabels.Active, await E2LabelAsync(paths.ActiveImage));
        Assert.Equal(SlotLabels.Passive, await E2LabelAsync(paths.PassiveImage));
        await FsckAsync(paths.ActiveImage);
        await FsckAsync(paths.PassiveImage);
        // Nothing unpacked is left on COS_PERSISTENT, and v1's layer was not fetched again.
        Assert.Empty(service.KeptTrees.List());
        Assert.False(Directory.Exists(service.StagingDirectory));
        Assert.Equal(1, second.BlobsTransferred);
        Assert.Equal(second.Plan.DownloadBytes, second.BytesTransferred);
        Assert.Equal(second.Plan.TransitionBytes, new FileInfo(paths.ActiveImage).Length);
        Assert.Equal(
            [UpgradePhases.Recover, UpgradePhases.Plan, UpgradePhases.Fetch, UpgradePhases.Build, UpgradePhases.Swap, UpgradePhases.Staging, UpgradePhases.TrimBlobs],
            second.Phases.Select(phase => phase.Phase));
        Assert.DoesNotContain(second.Phases, phase => phase.Phase == UpgradePhases.Measure);

        // Mounted by the kernel, the image is the tree a directory unpack of v2 gives: content, owners, modes, times,
        // links, devices, extended attributes.
        var unpacked = temp.Combine("unpacked-v2");
        await images.UnpackAsync(Basalt.Oci.References.ImageSource.Parse(v2), unpacked);
        var mount = temp.Combine("mnt");
        Directory.CreateDirectory(mount);
        await RunAsync("mount", "-t", "ext4", "-o", "loop,ro", paths.ActiveImage, mount);
        try
        {
            TreeSnapshot.AssertEqual(TreeSnapshot.Capture(unpacked), TreeSnapshot.Capture(mount), new TreeCompareOptions
            {
                IgnoredPaths = new HashSet<string>(StringComparer.Ordinal) { "lost+found" },
            });
        }
        finally
        {
            await RunAsync("umount", mount);
        }

        var repeat = await service.UpgradeAsync(new UpgradeRequest(v2));
        Assert.True(repeat.Plan.NoOp);
        Assert.Equal(0, repeat.BytesTransferred);

        var rollback = await new RollbackService(paths, _runner, slots, history).RollbackAsync();
        Assert.Equal(first.Plan.Digest, rollback.Active?.Digest);
        Assert.Equal("v1", await ReadFileAsync(paths.ActiveImage, "/etc/version"));
        Assert.Equal("v2", await ReadFileAsync(paths.PassiveImage, "/etc/version"));
        Assert.Equal(SlotLabels.Passive, await E2LabelAsync(paths.PassiveImage));
        await FsckAsync(paths.ActiveImage);
        await FsckAsync(paths.PassiveImage);
    }

    [Fact]
    public async Task A_state_partition_too_small_for_the_transition_image_refuses_the_upgrade_and_keeps_both_images()
    {
        RequireTools();
        Requires.Tool("mount", "mount");
        using var temp = new TempDirectory("agent-upgrade-nospace");
        var (v1, _) = await PushImagesAsync(temp, "nospace/os");
        var stateFile = temp.Combine("state.ext4");
        var stateMount = temp.Combine("node", "state");
        Directory.CreateDirectory(stateMount);
        await new Ext4ImageBuilder(_runner).BuildAsync(stateFile, new Ext4ImageSpec("COS_STATE", Guid.NewGuid(), 24L << 20) { ReservedPercent = 0 });
        await RunAsync("mount", "-o", "loop", stateFile, stateMount);
        try
        {
            var paths = await MakeNodeAsync(temp, temp.Combine("node"), stateMount);
            using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string> { _registry.Host } });
            var history = new FileLifecycleHistory(paths.History);
            var service = new UpgradeService(paths, new ImageService(new BlobStore(paths.BlobStore), client), _runner, new SlotStoreRecords(new SlotStore(paths.SlotsFile)), history);
            var active = await File.ReadAllBytesAsync(paths.ActiveImage);

            var error = await Assert.ThrowsAsync<NotEnoughSpaceException>(() => service.UpgradeAsync(new UpgradeRequest(v1)));

            Assert.Equal("COS_STATE", error.Partition);
            Assert.Equal(active, await File.ReadAllBytesAsync(paths.ActiveImage));
            Assert.Equal("factory", await ReadFileAsync(paths.PassiveImage, "/etc/version"));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(stateMount, "cOS"), "*transition*", SearchOption.AllDirectories).Concat(
                Directory.EnumerateFiles(Path.Combine(stateMount, "cOS"), ".*")));
            Assert.False(File.Exists(paths.Journal));
        }
        finally
        {
            await RunAsync("umount", stateMount);
        }
    }

    private static void RequireTools()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("tune2fs", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("e2label", "e2fsprogs");
        Requires.Tool("umoci", "umoci");
        Requires.Tool("skopeo", "skopeo");
    }

    /// <summary>v1: a sample tree; v2: v1 plus one layer with a marker, a new version file and a whiteout of etc/obsolete.</summary>
    private async Task<(string V1, string V2)> PushImagesAsync(TempDirectory temp, string repository)
    {
        var rootfs = temp.Combine("rootfs-v1");
        SampleTree.Create(rootfs);
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        await File.WriteAllTextAsync(Path.Combine(rootfs, "etc", "version"), "v1");
        await File.WriteAllTextAsync(Path.Combine(rootfs, "etc", "obsolete"), "gone in v2");
        var layout = temp.Combine("layout");
        var tools = new ReferenceTools(_runner);
        await tools.BuildImageWithUmociAsync(layout, "v1", rootfs);

        var bundle = temp.Combine("bundle-v2");
        await RunAsync("umoci", "unpack", "--image", $"{layout}:v1", bundle);
        await File.WriteAllTextAsync(Path.Combine(bundle, "rootfs", "etc", "version"), "v2");
        await File.WriteAllTextAsync(Path.Combine(bundle, "rootfs", "etc", "marker"), "marker of v2");
        File.Delete(Path.Combine(bundle, "rootfs", "etc", "obsolete"));
        await RunAsync("umoci", "repack", "--image", $"{layout}:v2", bundle);

        await tools.CopyWithSkopeoAsync($"oci:{layout}:v1", $"docker://{_registry.Reference(repository, "v1")}");
        await tools.CopyWithSkopeoAsync($"oci:{layout}:v2", $"docker://{_registry.Reference(repository, "v2")}");
        return ("oci:" + _registry.Reference(repository, "v1"), "oci:" + _registry.Reference(repository, "v2"));
    }

    /// <summary>A node as install leaves it: active and passive real ext4 images of a "factory" tree, an empty grubenv.</summary>
    private async Task<NodePaths> MakeNodeAsync(TempDirectory temp, string root, string? stateMount = null)
    {
        var paths = new NodePaths
        {
            StateMount = stateMount ?? Path.Combine(root, "state"),
            RecoveryMount = Path.Combine(root, "recovery"),
            OemMount = Path.Combine(root, "oem"),
            PersistentMount = Path.Combine(root, "persistent"),
        };
        Directory.CreateDirectory(Path.Combine(paths.StateMount, "cOS"));
        Directory.CreateDirectory(paths.OemMount);
        Directory.CreateDirectory(paths.AgentDirectory);
        GrubEnvironment.Create().Save(paths.GrubEnvironment);
        var factory = temp.Combine("factory-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(Path.Combine(factory, "etc"));
        await File.WriteAllTextAsync(Path.Combine(factory, "etc", "version"), "factory");
        var builder = new Ext4ImageBuilder(_runner);
        await builder.BuildAsync(paths.ActiveImage, new Ext4ImageSpec(SlotLabels.Active, Guid.NewGuid(), 8L << 20) { SourceDirectory = factory, ReservedPercent = 0 });
        await builder.BuildAsync(paths.PassiveImage, new Ext4ImageSpec(SlotLabels.Passive, Guid.NewGuid(), 8L << 20) { SourceDirectory = factory, ReservedPercent = 0 });
        return paths;
    }

    private async Task<string> ReadFileAsync(string image, string path)
    {
        var result = await _runner.RunAsync(new ToolInvocation("debugfs", ["-R", $"cat {path}", image]));
        return result.StandardOutput.Trim();
    }

    private async Task<bool> ExistsAsync(string image, string path)
    {
        var result = await _runner.RunAsync(new ToolInvocation("debugfs", ["-R", $"stat {path}", image]));
        return result.StandardOutput.Contains("Inode:", StringComparison.Ordinal);
    }

    private async Task<string> E2LabelAsync(string image) =>
        (await _runner.RunAsync(new ToolInvocation("e2label", [image]))).StandardOutput.Trim();

    private async Task FsckAsync(string image) =>
        await _runner.RunAsync(new ToolInvocation("e2fsck", ["-f", "-n", image]));

    private async Task RunAsync(string tool, params string[] arguments) =>
        await _runner.RunAsync(new ToolInvocation(tool, arguments) { Timeout = TimeSpan.FromMinutes(5) });
}
