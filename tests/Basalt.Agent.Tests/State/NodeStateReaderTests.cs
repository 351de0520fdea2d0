using System.Text.Json;
using Basalt.Agent.History;
using Basalt.Agent.Slots;
using Basalt.Agent.State;
using Basalt.Boot.Grub;

namespace Basalt.Agent.Tests.State;

public sealed class NodeStateReaderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private static readonly SlotInfo V3 = new(SlotNames.Active, "registry.local/os:v3", "sha256:33", Now.AddDays(-1), Now.AddHours(-1));
    private static readonly SlotInfo V2 = new(SlotNames.Passive, "registry.local/os:v2", "sha256:22", Now.AddDays(-9), Now.AddDays(-8));
    private static readonly SlotInfo Recovery = new(SlotNames.Recovery, "registry.local/os:v1", "sha256:11", null, Now.AddDays(-30));

    [Fact]
    public async Task The_state_of_a_node_that_fell_back_names_the_failed_image_and_why()
    {
        using var node = new TestNode().Booted(SlotNames.Passive).WithSlots(V3, V2, Recovery)
            .WithGrubenv((GrubEnvironmentKeys.ActiveTriesLeft, "0"), (GrubEnvironmentKeys.SavedEntry, "cos"));
        File.WriteAllText(node.Paths.ActiveImage, string.Empty);
        var install = new LifecycleRecord(LifecycleOperations.Install, Now.AddDays(-30), LifecycleOperations.Succeeded, SlotNames.Active, "registry.local/os:v1");
        var upgrade = new LifecycleRecord(LifecycleOperations.Upgrade, Now.AddHours(-1), LifecycleOperations.Succeeded, SlotNames.Active, "registry.local/os:v3", "sha256:22", "sha256:33");
        var fallback = new LifecycleRecord(LifecycleOperations.Fallback, Now, LifecycleOperations.Failed, SlotNames.Passive, "registry.local/os:v3", "sha256:33", "sha256:22", "active: no tries left");
        foreach (var record in new[] { install, upgrade, fallback })
        {
            await node.History.AppendAsync(record);
        }

        var state = await new NodeStateReader(node.Paths).ReadAsync();

        Assert.Equal("passive", state.BootMode);
        Assert.Equal(SlotNames.Passive, state.BootedSlot);
        Assert.Equal("/cOS/passive.img", state.BootedImageFile);
        Assert.Equal(["active", "passive", "recovery"], state.Slots.Select(s => s.Slot));
        Assert.Equal(["sha256:33", "sha256:22", "sha256:11"], state.Slots.Select(s => s.Digest));
        Assert.Equal(Now.AddDays(-1), state.Slots[0].BuildDate);
        Assert.True(state.Slots[0].ImagePresent);
        Assert.False(state.Slots[1].ImagePresent);
        Assert.True(state.BootCounting.Armed);
        Assert.Equal(0, state.BootCounting.ActiveTriesLeft);
        Assert.Null(state.BootCounting.PassiveTriesLeft);
        Assert.Equal("cos", state.BootCounting.SavedEntry);
        Assert.Equal(new FallbackState("history", "active: no tries left", Now, SlotNames.Passive, "registry.local/os:v3", "sha256:33"), state.LastFallback);
        Assert.Equal([install, upgrade, fallback], state.History);
        Assert.Empty(state.Warnings);
        var text = NodeStateText.Render(state);
        Assert.Contains("from registry.local/os:v3 to passive — active: no tries left", text, StringComparison.Ordinal);
        Assert.Contains("failed image registry.local/os:v3", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fallback_not_yet_recorded_comes_from_the_grubenv()
    {
        using var node = new TestNode().Booted(SlotNames.Recovery).WithSlots(V3, V2)
            .WithGrubenv((GrubEnvironmentKeys.ActiveTriesLeft, "0"), (GrubEnvironmentKeys.PassiveTriesLeft, "0"), (GrubEnvironmentKeys.FallbackReason, "passive: no tries left"));

        var state = await new NodeStateReader(node.Paths).ReadAsync();

        Assert.Equal(SlotNames.Recovery, state.BootedSlot);
        Assert.Equal(new FallbackState("grubenv", "passive: no tries left", null, SlotNames.Recovery, "registry.local/os:v3", "sha256:33"), state.LastFallback);
    }

    [Fact]
    public async Task Partitions_report_device_and_space_from_the_mount_table()
    {
        using var node = new TestNode().Booted(SlotNames.Active).WithGrubenv();
        var escaped = node.Paths.StateMount.Replace(" ", "\\040", StringComparison.Ordinal);
        File.WriteAllText(node.Paths.MountInfo,
            $"22 1 254:1 / / ro,relatime shared:1 - ext4 /dev/loop0 ro\n" +
            $"30 22 254:4 / {escaped} ro,relatime shared:5 - ext4 /dev/vda4 ro\n" +
            $"31 22 254:6 / {node.Paths.PersistentMount} rw,relatime shared:6 - ext4 /dev/vda6 rw\n");

        var state = await new NodeStateReader(node.Paths).ReadAsync();

        Assert.Equal(["COS_STATE", "COS_RECOVERY", "COS_OEM", "COS_PERSISTENT"], state.Partitions.Select(p => p.Label));
        var cosState = state.Partitions[0];
        Assert.True(cosState.Mounted);
        Assert.Equal("/dev/vda4", cosState.Device);
        Assert.Equal("ext4", cosState.FileSystem);
        Assert.True(cosState.TotalBytes > 0);
        Assert.InRange(cosState.FreeBytes!.Value, 0, cosState.TotalBytes!.Value);
        Assert.Equal("/dev/vda6", state.Partitions[3].Device);
        // The OEM directory exists but nothing is mounted there: no size borrowed from the filesystem beneath.
        Assert.False(state.Partitions[2].Mounted);
        Assert.Null(state.Partitions[2].TotalBytes);
    }

    [Fact]
    public async Task An_image_on_a_partition_not_mounted_here_is_unknown_not_missing()
    {
        // The active system as it runs: COS_STATE mounted, COS_RECOVERY not (it is mounted only to boot or reset from it).
        using var node = new TestNode().Booted(SlotNames.Active).WithSlots(V3, V2, Recovery).WithGrubenv();
        File.WriteAllText(node.Paths.ActiveImage, string.Empty);
        Directory.CreateDirectory(node.Paths.RecoveryMount);
        File.WriteAllText(node.Paths.MountInfo,
            $"22 1 254:1 / / ro,relatime shared:1 - ext4 /dev/loop0 ro\n" +
            $"30 22 254:4 / {node.Paths.StateMount.Replace(" ", "\\040", StringComparison.Ordinal)} ro,relatime shared:5 - ext4 /dev/vda4 ro\n");

        var state = await new NodeStateReader(node.Paths).ReadAsync();

        Assert.Equal([true, false, null], state.Slots.Select(s => s.ImagePresent));
        Assert.Equal(["COS_STATE", "COS_STATE", "COS_RECOVERY"], state.Slots.Select(s => s.Partition));
        var text = NodeStateText.Render(state);
        Assert.Contains("passive   registry.local/os:v2  [image file missing]", text, StringComparison.Ordinal);
        Assert.Contains("recovery  registry.local/os:v1  [COS_RECOVERY not mounted: image not checked]", text, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(state, AgentJsonContext.Default.NodeState));
        var recovery = json.RootElement.GetProperty("slots")[2];
        Assert.False(recovery.TryGetProperty("imagePresent", out _), "unknown presence is left out of the JSON, never false");
        Assert.False(json.RootElement.GetProperty("slots")[1].GetProperty("imagePresent").GetBoolean());
        Assert.Equal("COS_RECOVERY", recovery.GetProperty("partition").GetString());
    }

    [Fact]
    public void The_mount_table_unescapes_paths_and_the_topmost_mount_wins()
    {
        var entries = MountTable.Parse(
            "22 1 254:1 / / ro shared:1 - ext4 /dev/loop0 ro\n" +
            "40 22 8:1 / /mnt/my\\040disk rw - vfat /dev/sda1 rw\n" +
            "41 22 8:2 / /oem rw shared:7 master:2 - ext4 /dev/vda2 rw\n" +
            "42 41 0:50 / /oem rw - tmpfs tmpfs rw\n" +
            "garbage line\n");

        Assert.Equal(4, entries.Count);
        Assert.Equal("/dev/sda1", MountTable.Find(entries, "/mnt/my disk")?.Source);
        Assert.Equal("tmpfs", MountTable.Find(entries, "/oem/")?.FileSystem);
        Assert.Null(MountTable.Find(entries, "/usr/local"));
    }

    [Fact]
    public async Task A_torn_history_line_and_a_missing_grubenv_are_warnings_not_failures()
    {
        using var node = new TestNode().Booted(SlotNames.Active);
        await node.History.AppendAsync(new LifecycleRecord(LifecycleOperations.Install, Now, LifecycleOperations.Succeeded));
        await File.AppendAllTextAsync(node.Paths.History, "{\"operation\":\"upg");

        var state = await new NodeStateReader(node.Paths).ReadAsync();

        Assert.Single(state.History);
        Assert.Contains(state.Warnings, w => w.Contains("cut short", StringComparison.Ordinal));
        Assert.Contains(state.Warnings, w => w.Contains("GRUB environment", StringComparison.Ordinal));
        Assert.False(state.BootCounting.Armed);
        Assert.Null(state.LastFallback);
    }

    [Fact]
    public async Task The_state_renders_as_json_and_as_text()
    {
        using var node = new TestNode().Booted(SlotNames.Active).WithSlots(V3, V2)
            .WithGrubenv((GrubEnvironmentKeys.ActiveTriesLeft, "2"), (GrubEnvironmentKeys.PassiveTriesLeft, "3"));

        var state = await new NodeStateReader(node.Paths).ReadAsync();
        var json = JsonSerializer.Serialize(state, AgentJsonContext.Default.NodeState);
        var text = NodeStateText.Render(state);

        using var document = JsonDocument.Parse(json);
        Assert.Equal("active", document.RootElement.GetProperty("bootedSlot").GetString());
        Assert.Equal(2, document.RootElement.GetProperty("bootCounting").GetProperty("activeTriesLeft").GetInt32());
        Assert.Equal("sha256:33", document.RootElement.GetProperty("slots")[0].GetProperty("digest").GetString());
        Assert.Contains("registry.local/os:v3", text, StringComparison.Ordinal);
        Assert.Contains("tries left: active 2, passive 3", text, StringComparison.Ordinal);
        Assert.Contains("last fallback: none", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TestNode.ActiveCmdline, "active", "/cOS/active.img")]
    [InlineData(TestNode.PassiveCmdline, "passive", "/cOS/passive.img")]
    [InlineData(TestNode.RecoveryCmdline, "recovery", "/cOS/recovery.squashfs")]
    [InlineData("root=LABEL=COS_SYSTEM cos-img/filename=/cOS/recovery.img", "recovery", "/cOS/recovery.img")]
    [InlineData("root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs", null, "rootfs.squashfs")]
    [InlineData("console=ttyS0", null, null)]
    public void The_booted_slot_comes_from_the_kernel_command_line(string cmdline, string? slot, string? image)
    {
        Assert.Equal((slot, image), RunningSystem.SlotFromCommandLine(cmdline));
    }
}
