using System.Globalization;
using System.Security.Cryptography;
using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Build.Artifacts;
using Basalt.Config.Model;
using Basalt.Config.Stages;
using Basalt.Disk.Devices;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Install;

/// <summary>Runs every tool for real except systemctl, whose calls (the reboot step) are only recorded.</summary>
internal sealed class NoRebootRunner : IToolRunner
{
    private readonly ToolRunner _inner = new();

    public List<ToolInvocation> PowerCalls { get; } = [];

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        if (invocation.Tool == "systemctl")
        {
            PowerCalls.Add(invocation);
            return Task.FromResult(new ToolResult(0, string.Empty, string.Empty, TimeSpan.Zero));
        }

        return _inner.RunAsync(invocation, cancellationToken);
    }

    public string? Locate(string tool) => _inner.Locate(tool);
}

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class InstallIntegrationTests
{
    private const long MiB = 1024 * 1024;

    private static void RequireTools()
    {
        Requires.Root();
        Requires.Tool("losetup", "mount");
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("mmd", "mtools");
        Requires.Tool("grub-mkimage", "grub-common");
        Requires.Tool("cp", "coreutils");
        if (!File.Exists(Path.Combine(DiskArtifactPlanner.HostGrubModulesDirectory, "moddep.lst")))
        {
            throw new RequirementMissingException("this test needs GRUB's x86_64-efi modules: apt-get install -y grub-efi-amd64-bin");
        }
    }

    private static string Tree(TempDirectory temp)
    {
        var root = temp.Combine("tree");
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "boot", "vmlinuz"), "not a kernel\n");
        File.WriteAllText(Path.Combine(root, "boot", "initrd"), "not an initramfs\n");
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), "NAME=\"Basalt install test\"\nID=basalt-test\n");
        return root;
    }

    private static string SparseDisk(TempDirectory temp, string name, long bytes)
    {
        var path = temp.Combine(name);
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        RandomAccess.SetLength(file, bytes);
        return path;
    }

    /// <summary>Random bytes at the start, the middle and the end, so "untouched" can be checked by hash.</summary>
    private static string Scribble(string path, long bytes)
    {
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            foreach (var offset in new[] { 0, bytes / 2, bytes - MiB })
            {
                RandomAccess.Write(file, RandomNumberGenerator.GetBytes((int)MiB), offset);
            }
        }

        return Hash(path);
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>The slots file the install left on COS_STATE, read back through a copy in <paramref name="temp"/>.</summary>
    private static async Task<IReadOnlyList<Basalt.Agent.Slots.SlotInfo>> SlotsOnStateAsync(OfflineExt4Partition state, TempDirectory temp)
    {
        var slotsFile = temp.Combine("slots.json");
        await File.WriteAllBytesAsync(slotsFile, (await state.ReadFileAsync(InstallSlots.StateTarget))!);
        return new Basalt.Agent.Slots.SlotStore(slotsFile).Read().Slots;
    }

    private static InstallPlanner Planner(string mountInfo) => new(new DiskInventory(), new RunningSystemProbe(mountInfo));

    [Fact]
    public async Task Installs_a_dir_source_onto_a_loop_device_with_every_partition_and_the_cloud_config()
    {
        RequireTools();
        using var temp = new TempDirectory("install-loop");
        var tree = Tree(temp);
        var backing = SparseDisk(temp, "disk.raw", 1536 * MiB);
        var noMounts = temp.Combine("mountinfo");
        File.WriteAllText(noMounts, string.Empty);
        var marker = temp.Combine("stage-markers");
        var stages = new List<StageSource>
        {
            new("test", (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse($$$"""
                {"stages":{
                  "before-install":[{"directories":[{"path":"{{{marker}}}/before"}]}],
                  "after-install-chroot":[{"files":[{"path":"/etc/installed-by-chroot","content":"yes\n"}]}],
                  "after-install":[{"directories":[{"path":"{{{marker}}}/after"}]}]
                }}
                """)!),
        };
        var runner = new NoRebootRunner();
        await using var loop = await LoopDevice.AttachAsync(runner, backing);

        var plan = Planner(noMounts).Plan(new InstallRequest
        {
            Device = loop.Device,
            Source = "dir:" + tree,
            Config = new CloudConfig { Install = new InstallConfig { Reboot = true } },
            CloudConfigText = "#cloud-config\nhostname: installed-node\n",
            StageSources = stages,
            WorkDirectory = temp.Combine("work"),
            Seed = "install-test",
        });
        var executor = new InstallExecutor(runner, new LifecycleStages(new StageRunner(runner), stages, strict: true), path => new FileLifecycleHistory(path));
        var result = await executor.ExecuteAsync(plan);
        await loop.DetachAsync();

        Assert.Equal(1536 * MiB, result.DiskBytes);
        Assert.True(Directory.Exists(Path.Combine(marker, "before")), "before-install ran");
        Assert.True(Directory.Exists(Path.Combine(marker, "after")), "after-install ran");
        Assert.False(File.Exists(Path.Combine(tree, "etc", "installed-by-chroot")), "the chroot stage never touches the source tree");
        var power = Assert.Single(runner.PowerCalls);
        Assert.Equal(["reboot"], power.Arguments);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Combine("work")));

        var gpt = GptReader.Read(backing);
        Assert.Equal(KairosLayout.StandardLabels, gpt.Partitions.Select(partition => partition.Name));
        var state = OfflineExt4Partition.Open(runner, backing, KairosLayout.StateLabel);
        Assert.True(await state.ExistsAsync("/cOS/active.img"));
        Assert.True(await state.ExistsAsync("/cOS/passive.img"));
        Assert.True(await state.ExistsAsync("/grub2/grub.cfg"));
        // The slots file lies beside the images: all three slots hold the installed tree, named after the source.
        var slots = await SlotsOnStateAsync(state, temp);
        Assert.Equal(["active", "passive", "recovery"], slots.Select(slot => slot.Slot));
        Assert.All(slots, slot => Assert.Equal(plan.Source.Text, slot.ImageReference));
        var oem = OfflineExt4Partition.Open(runner, backing, KairosLayout.OemLabel);
        var cloudConfig = System.Text.Encoding.UTF8.GetString((await oem.ReadFileAsync("/" + InstallPlan.CloudConfigFileName))!);
        Assert.Contains("hostname: installed-node", cloudConfig, StringComparison.Ordinal);
        Assert.True(await oem.ExistsAsync("/grubenv"));
        var recovery = OfflineExt4Partition.Open(runner, backing, KairosLayout.RecoveryLabel);
        Assert.True(await recovery.ExistsAsync("/cOS/recovery.squashfs"));
        var persistent = OfflineExt4Partition.Open(runner, backing, KairosLayout.PersistentLabel);
        var history = System.Text.Encoding.UTF8.GetString((await persistent.ReadFileAsync("/.basalt/history.jsonl"))!);
        Assert.Contains("\"operation\":\"install\"", history, StringComparison.Ordinal);

        // The chroot stage's change is in the deployed image: read active.img out and look inside it.
        var active = temp.Combine("active.img");
        await File.WriteAllBytesAsync(active, (await state.ReadFileAsync("/cOS/active.img"))!);
        var listing = await runner.RunAsync(new ToolInvocation("debugfs", ["-R", "cat /etc/installed-by-chroot", active]));
        Assert.Equal("yes", listing.StandardOutput.Trim());
    }

    [Fact]
    public async Task An_image_install_records_every_slot_by_the_images_name_and_digest_and_seeds_the_nodes_blob_store()
    {
        RequireTools();
        using var temp = new TempDirectory("install-image");
        var tree = Tree(temp);
        var backing = SparseDisk(temp, "disk.raw", 1536 * MiB);
        var noMounts = temp.Combine("mountinfo");
        File.WriteAllText(noMounts, string.Empty);
        var runner = new NoRebootRunner();
        var digest = "sha256:" + new string('7', 64);
        var built = new DateTimeOffset(2026, 11, 1, 8, 30, 0, TimeSpan.Zero);
        string? seededInto = null;
        ImageUnpacker unpack = async (image, target, seedBlobStore, cancellationToken) =>
        {
            Directory.CreateDirectory(target);
            await runner.RunAsync(new ToolInvocation("cp", ["-a", tree + "/.", target]), cancellationToken);
            if (seedBlobStore is not null)
            {
                seededInto = seedBlobStore;
                Directory.CreateDirectory(Path.Combine(seedBlobStore, "blobs", "sha256"));
                await File.WriteAllTextAsync(Path.Combine(seedBlobStore, "blobs", "sha256", new string('7', 64)), "a seeded blob", cancellationToken);
            }

            return new UnpackedImageIdentity("registry.local/os:v7", digest, built);
        };
        await using var loop = await LoopDevice.AttachAsync(runner, backing);
        var plan = Planner(noMounts).Plan(new InstallRequest
        {
            Device = loop.Device,
            Source = "oci:registry.local/os:v7",
            WorkDirectory = temp.Combine("work"),
            SeedBlobs = true,
        });

        await new InstallExecutor(runner, new LifecycleStages(new StageRunner(runner), []), path => new FileLifecycleHistory(path), unpack).ExecuteAsync(plan);
        await loop.DetachAsync();

        var state = OfflineExt4Partition.Open(runner, backing, KairosLayout.StateLabel);
        var slots = await SlotsOnStateAsync(state, temp);
        Assert.Equal(["active", "passive", "recovery"], slots.Select(slot => slot.Slot));
        Assert.All(slots, slot => Assert.Equal(("registry.local/os:v7", digest, built), (slot.ImageReference, slot.Digest, slot.BuildDate)));
        // --seed-blobs: the blob store the image was copied into is the node's, on COS_PERSISTENT, where upgrades look.
        Assert.NotNull(seededInto);
        var persistent = OfflineExt4Partition.Open(runner, backing, KairosLayout.PersistentLabel);
        Assert.Equal("a seeded blob"u8.ToArray(), await persistent.ReadFileAsync($"/.basalt/blobs/blobs/sha256/{new string('7', 64)}"));
    }

    [Fact]
    public async Task A_device_too_small_is_refused_and_left_untouched()
    {
        RequireTools();
        using var temp = new TempDirectory("install-small");
        var tree = Tree(temp);
        var backing = SparseDisk(temp, "small.raw", 192 * MiB);
        var before = Scribble(backing, 192 * MiB);
        var noMounts = temp.Combine("mountinfo");
        File.WriteAllText(noMounts, string.Empty);
        var runner = new ToolRunner();
        await using (var loop = await LoopDevice.AttachAsync(runner, backing))
        {
            var error = Assert.Throws<InstallDeviceTooSmallException>(() => Planner(noMounts).Plan(new InstallRequest { Device = loop.Device, Source = "dir:" + tree, WorkDirectory = temp.Path }));
            Assert.Equal(192 * MiB, error.DeviceBytes);
            Assert.Contains(ByteSizeText(error.RequiredBytes), error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, Hash(backing));
    }

    [Fact]
    public async Task A_device_holding_the_running_system_is_refused_and_left_untouched()
    {
        RequireTools();
        using var temp = new TempDirectory("install-inuse");
        var tree = Tree(temp);
        var backing = SparseDisk(temp, "busy.raw", 1536 * MiB);
        var before = Scribble(backing, 1536 * MiB);
        var runner = new ToolRunner();
        await using (var loop = await LoopDevice.AttachAsync(runner, backing))
        {
            // The machine's mount table, as if / were on this disk.
            var status = Posix.GetStatus(loop.Device);
            var mountInfo = temp.Combine("mountinfo");
            File.WriteAllText(mountInfo, string.Create(CultureInfo.InvariantCulture, $"22 1 {status.DeviceMajor}:{status.DeviceMinor} / / ro,relatime - ext4 {loop.Device} ro\n"));

            var error = Assert.Throws<InstallDeviceInUseException>(() => Planner(mountInfo).Plan(new InstallRequest { Device = loop.Device, Source = "dir:" + tree, WorkDirectory = temp.Path }));
            Assert.Equal(["/"], error.MountPoints);
        }

        Assert.Equal(before, Hash(backing));
    }

    [Fact]
    public async Task An_image_source_is_unpacked_then_refused_before_writing_when_the_device_is_too_small()
    {
        RequireTools();
        using var temp = new TempDirectory("install-image-small");
        var tree = Tree(temp);
        var backing = SparseDisk(temp, "small.raw", 192 * MiB);
        var before = Scribble(backing, 192 * MiB);
        var noMounts = temp.Combine("mountinfo");
        File.WriteAllText(noMounts, string.Empty);
        var runner = new NoRebootRunner();
        var unpacked = new List<string>();
        ImageUnpacker unpack = async (image, target, _, cancellationToken) =>
        {
            unpacked.Add(image.ToString());
            Directory.CreateDirectory(target);
            await runner.RunAsync(new ToolInvocation("cp", ["-a", tree + "/.", target]), cancellationToken);
            return new UnpackedImageIdentity("registry.local/os:v1", "sha256:" + new string('1', 64), null);
        };
        await using (var loop = await LoopDevice.AttachAsync(runner, backing))
        {
            var plan = Planner(noMounts).Plan(new InstallRequest
            {
                Device = loop.Device,
                Source = "oci:registry.local/os:v1",
                Config = new CloudConfig { Install = new InstallConfig { Reboot = true } },
                WorkDirectory = temp.Combine("work"),
            });
            Assert.Null(plan.Disk);
            var executor = new InstallExecutor(runner, new LifecycleStages(new StageRunner(runner), []), path => new FileLifecycleHistory(path), unpack);

            var error = await Assert.ThrowsAsync<InstallDeviceTooSmallException>(() => executor.ExecuteAsync(plan));

            Assert.True(error.RequiredBytes > 192 * MiB);
        }

        Assert.Equal(["oci:registry.local/os:v1"], unpacked);
        Assert.Empty(runner.PowerCalls);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Combine("work")));
        Assert.Equal(before, Hash(backing));
    }

    private static string ByteSizeText(long bytes) => Disk.ByteSize.Format(bytes);
}
