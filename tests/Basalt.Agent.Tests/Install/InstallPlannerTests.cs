using System.Text.Json;
using Basalt.Agent.Install;
using Basalt.Config.Model;
using Basalt.Disk;
using Basalt.Disk.Layout;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Install;

public sealed class InstallPlannerTests
{
    private const long GiB = FakeMachine.GiB;
    private const long MiB = 1024 * 1024;

    private static InstallRequest Request(string? device, InstallConfig? install = null, string? source = null) => new()
    {
        Device = device,
        Config = new CloudConfig { Install = install },
        Source = source,
        Seed = "test",
    };

    [Fact]
    public void Auto_picks_the_largest_non_removable_writable_real_disk()
    {
        using var machine = new FakeMachine();
        machine.AddDisk("vda", 10 * GiB);
        machine.AddDisk("vdb", 40 * GiB);
        machine.AddDisk("sdc", 100 * GiB, removable: true);
        machine.AddDisk("sdd", 80 * GiB, readOnly: true);
        machine.AddDisk("loop0", 200 * GiB);

        var plan = machine.Planner.Plan(Request("auto"));

        Assert.Equal(Path.Combine(machine.Dev, "vdb"), plan.Device);
        Assert.Equal(40 * GiB, plan.DeviceBytes);
        Assert.True(plan.DeviceChosenAutomatically);
    }

    [Fact]
    public void Auto_from_the_config_skips_the_disk_holding_the_running_system()
    {
        using var machine = new FakeMachine();
        machine.AddDisk("vda", 10 * GiB);
        machine.AddDisk("vdb", 40 * GiB);
        machine.Mount("vdb", "/");

        var plan = machine.Planner.Plan(Request(null, new InstallConfig { Device = "auto" }));

        Assert.Equal(Path.Combine(machine.Dev, "vda"), plan.Device);
    }

    [Fact]
    public void Auto_without_any_candidate_is_a_typed_error_naming_what_was_seen()
    {
        using var machine = new FakeMachine();
        machine.AddDisk("sr0", 1 * GiB, removable: true);

        var error = Assert.Throws<NoInstallDeviceException>(() => machine.Planner.Plan(Request("auto")));
        Assert.Contains("sr0 (removable)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_disk_holding_the_running_system_is_refused_unless_forced()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 10 * GiB);
        machine.Mount("vda", "/");
        machine.Mount("vda", "/run/my disk");

        var error = Assert.Throws<InstallDeviceInUseException>(() => machine.Planner.Plan(Request(vda)));
        Assert.Equal(["/", "/run/my disk"], error.MountPoints);
        Assert.Contains("--force", error.Hint, StringComparison.Ordinal);

        var forced = machine.Planner.Plan(Request(vda) with { Force = true });
        Assert.Equal(["/", "/run/my disk"], forced.ForcedOverMounts);
        var forcedByConfig = machine.Planner.Plan(Request(vda, new InstallConfig { Force = true }));
        Assert.Equal(vda, forcedByConfig.Device);
    }

    [Fact]
    public void A_device_named_through_a_link_is_found_as_its_disk()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 10 * GiB);
        var byId = Path.Combine(machine.Dev, "disk", "by-id");
        Directory.CreateDirectory(byId);
        var link = Path.Combine(byId, "virtio-serial123");
        File.CreateSymbolicLink(link, vda);

        var plan = machine.Planner.Plan(Request(link));

        Assert.Equal(link, plan.Device);
        Assert.Equal(10 * GiB, plan.DeviceBytes);
    }

    [Fact]
    public void A_missing_device_a_partition_and_no_device_at_all_are_typed_errors()
    {
        using var machine = new FakeMachine();
        machine.AddDisk("vda", 10 * GiB);

        var missing = Assert.Throws<InstallDeviceNotFoundException>(() => machine.Planner.Plan(Request(Path.Combine(machine.Dev, "vdz"))));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
        var partition = Assert.Throws<InstallDeviceNotFoundException>(() => machine.Planner.Plan(Request(Path.Combine(machine.Dev, "vda1"))));
        Assert.Contains("partition", partition.Message, StringComparison.Ordinal);
        Assert.Throws<InstallDeviceNotFoundException>(() => machine.Planner.Plan(Request(null)));
    }

    [Fact]
    public void A_dir_source_is_laid_out_on_the_device_with_persistent_filling_it()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var tree = TinyTree.Create(Path.Combine(machine.Root, "tree"));

        var plan = machine.Planner.Plan(Request(vda, source: "dir:" + tree));

        var disk = Assert.IsType<Build.Artifacts.DiskArtifactPlan>(plan.Disk);
        Assert.Equal(8 * GiB, disk.Layout.DiskBytes);
        Assert.Equal(KairosLayout.StandardLabels, disk.Layout.Partitions.Select(p => p.Label));
        var persistent = disk.Layout.Get(KairosLayout.PersistentLabel);
        Assert.True(persistent.OffsetBytes + persistent.SizeBytes > 8 * GiB - (2 * MiB), "persistent reaches the end of the disk");
        Assert.Equal(InstallSourceKind.Directory, plan.Source.Kind);
    }

    [Fact]
    public void Requested_sizes_and_extra_partitions_shape_the_layout()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var tree = TinyTree.Create(Path.Combine(machine.Root, "tree"));
        var install = new InstallConfig
        {
            Partitions = new PartitionsConfig
            {
                State = new PartitionConfig { Size = 2048 },
                Oem = new PartitionConfig { Size = 128, Fs = "ext4", Label = "COS_OEM" },
                Persistent = new PartitionConfig { Size = 1024 },
            },
            ExtraPartitions = [new PartitionConfig { Name = "data", Size = 0, Label = "DATA" }],
        };

        var layout = machine.Planner.Plan(Request(vda, install, "dir:" + tree)).Disk!.Layout;

        Assert.Equal(2048 * MiB, layout.Get(KairosLayout.StateLabel).SizeBytes);
        Assert.Equal(128 * MiB, layout.Get(KairosLayout.OemLabel).SizeBytes);
        Assert.Equal(1024 * MiB, layout.Get(KairosLayout.PersistentLabel).SizeBytes);
        var data = layout.Get("data");
        Assert.Equal(6, data.Number);
        Assert.Equal("DATA", data.FileSystemLabel);
        Assert.True(data.OffsetBytes + data.SizeBytes > 8 * GiB - (2 * MiB), "the extra partition without a size takes the rest");
    }

    [Fact]
    public void A_device_too_small_is_refused_with_the_size_it_needs()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 256 * MiB);
        var tree = TinyTree.Create(Path.Combine(machine.Root, "tree"));

        var error = Assert.Throws<InstallDeviceTooSmallException>(() => machine.Planner.Plan(Request(vda, source: "dir:" + tree)));

        Assert.Equal(256 * MiB, error.DeviceBytes);
        Assert.True(error.RequiredBytes > 256 * MiB);
        Assert.Contains(ByteSize.Format(error.RequiredBytes), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_requested_size_below_what_the_contents_need_is_refused()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var tree = TinyTree.Create(Path.Combine(machine.Root, "tree"));
        var install = new InstallConfig { Partitions = new PartitionsConfig { State = new PartitionConfig { Size = 8 } } };

        var error = Assert.Throws<PartitionTooSmallException>(() => machine.Planner.Plan(Request(vda, install, "dir:" + tree)));
        Assert.Equal(KairosLayout.StateLabel, error.Label);
    }

    [Fact]
    public void Two_partitions_filling_the_disk_are_refused()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var tree = TinyTree.Create(Path.Combine(machine.Root, "tree"));
        var install = new InstallConfig { ExtraPartitions = [new PartitionConfig { Name = "data" }] };

        Assert.Throws<InvalidLayoutException>(() => machine.Planner.Plan(Request(vda, install, "dir:" + tree)));
    }

    [Theory]
    [InlineData("persistent-fs")]
    [InlineData("state-label")]
    [InlineData("extra-fs")]
    [InlineData("no-format")]
    [InlineData("encrypted")]
    [InlineData("file-source")]
    public void Settings_Basalt_cannot_honour_are_refused_by_name(string which)
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var install = which switch
        {
            "persistent-fs" => new InstallConfig { Partitions = new PartitionsConfig { Persistent = new PartitionConfig { Fs = "xfs" } } },
            "state-label" => new InstallConfig { Partitions = new PartitionsConfig { State = new PartitionConfig { Label = "MYSTATE" } } },
            "extra-fs" => new InstallConfig { ExtraPartitions = [new PartitionConfig { Name = "data", Size = 100, Fs = "btrfs" }] },
            "no-format" => new InstallConfig { NoFormat = true },
            "encrypted" => new InstallConfig { EncryptedPartitions = ["COS_PERSISTENT"] },
            _ => new InstallConfig { Source = "file:/tmp/rootfs.squashfs" },
        };

        var error = Assert.Throws<UnsupportedInstallSettingException>(() => machine.Planner.Plan(Request(vda, install)));
        Assert.NotNull(error.Hint);
    }

    [Theory]
    [InlineData(null, null, PowerAction.None)]
    [InlineData(true, null, PowerAction.Reboot)]
    [InlineData(null, true, PowerAction.Poweroff)]
    [InlineData(true, true, PowerAction.Poweroff)]
    public void Reboot_and_poweroff_become_the_last_step(bool? reboot, bool? poweroff, PowerAction expected)
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);

        var plan = machine.Planner.Plan(Request(vda, new InstallConfig { Reboot = reboot, Poweroff = poweroff }));

        Assert.Equal(expected, plan.After);
        if (expected != PowerAction.None)
        {
            Assert.Contains("systemctl", plan.Steps[^1], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_running_system_is_the_default_source_and_an_image_is_laid_out_later()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);

        var running = machine.Planner.Plan(Request(vda));
        var image = machine.Planner.Plan(Request(vda, source: "oci:registry.local/os:v1"));

        Assert.Equal(InstallSourceKind.RunningSystem, running.Source.Kind);
        Assert.Null(running.Disk);
        Assert.Equal(InstallSourceKind.Image, image.Source.Kind);
        Assert.Contains("unpack oci:registry.local/os:v1", string.Join('\n', image.Steps), StringComparison.Ordinal);
    }

    [Fact]
    public void The_plan_prints_as_text_and_json()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var tree = TinyTree.Create(Path.Combine(machine.Root, "tree"));
        var stages = new List<Config.Stages.StageSource>
        {
            new("test", (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""{"stages":{"after-install":[{"commands":["true"]},{"commands":["true"]}]}}""")!),
        };

        var plan = machine.Planner.Plan(Request(vda, new InstallConfig { Reboot = true }, "dir:" + tree) with { StageSources = stages, CloudConfigText = "#cloud-config\n" });

        Assert.Equal(2, plan.StepsOf("after-install"));
        Assert.Contains("COS_PERSISTENT", plan.ToString(), StringComparison.Ordinal);
        using var json = JsonDocument.Parse(plan.ToJson());
        Assert.Equal(vda, json.RootElement.GetProperty("device").GetString());
        Assert.Equal("reboot", json.RootElement.GetProperty("after").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("partitions").GetArrayLength());
        Assert.Equal(2, json.RootElement.GetProperty("stages").GetProperty("after-install").GetInt32());
        Assert.True(json.RootElement.GetProperty("writesCloudConfig").GetBoolean());
    }

    [Fact]
    public void Installing_the_running_live_system_reuses_its_squashfs_as_recovery_unless_a_chroot_stage_changes_the_tree()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        const string squashfs = "/run/initramfs/live/rootfs.squashfs";

        var live = machine.Planner.Plan(Request(vda) with { LiveSquashfsPath = squashfs });
        Assert.Equal(InstallSourceKind.RunningSystem, live.Source.Kind);
        Assert.Equal(squashfs, live.RecoverySquashfsPath);
        Assert.Contains($"copy {squashfs} as recovery.squashfs", live.ToString(), StringComparison.Ordinal);

        var stages = new List<Config.Stages.StageSource>
        {
            new("test", (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""{"stages":{"after-install-chroot":[{"commands":["true"]}]}}""")!),
        };
        var changed = machine.Planner.Plan(Request(vda) with { LiveSquashfsPath = squashfs, StageSources = stages });
        Assert.Null(changed.RecoverySquashfsPath);

        var image = machine.Planner.Plan(Request(vda, source: "oci:registry.example/basalt:1") with { LiveSquashfsPath = squashfs });
        Assert.Null(image.RecoverySquashfsPath);
    }

    [Fact]
    public void The_slots_file_beside_the_live_squashfs_names_what_the_install_records_when_the_running_system_is_the_source()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);
        var medium = Path.Combine(machine.Root, "live");
        Directory.CreateDirectory(medium);
        var squashfs = Path.Combine(medium, "rootfs.squashfs");
        File.WriteAllText(squashfs, "squashfs");

        var unnamed = machine.Planner.Plan(Request(vda) with { LiveSquashfsPath = squashfs });
        Assert.Null(unnamed.MediumSlotsPath);

        var slots = Path.Combine(medium, InstallSlots.MediumFileName);
        File.WriteAllText(slots, "{}");
        var named = machine.Planner.Plan(Request(vda) with { LiveSquashfsPath = squashfs });
        Assert.Equal(slots, named.MediumSlotsPath);
        Assert.Contains($"record the slots as the image {slots} names", named.ToString(), StringComparison.Ordinal);

        // An image source names itself.
        var image = machine.Planner.Plan(Request(vda, source: "oci:registry.example/basalt:1") with { LiveSquashfsPath = squashfs });
        Assert.Null(image.MediumSlotsPath);
    }

    [Fact]
    public void Seeding_blobs_needs_an_image_source_and_shows_in_the_plan()
    {
        using var machine = new FakeMachine();
        var vda = machine.AddDisk("vda", 8 * GiB);

        var error = Assert.Throws<UnsupportedInstallSettingException>(() => machine.Planner.Plan(Request(vda) with { SeedBlobs = true }));
        Assert.Equal("--seed-blobs", error.Setting);

        var plan = machine.Planner.Plan(Request(vda, source: "oci:registry.example/basalt:1") with { SeedBlobs = true });
        Assert.True(plan.SeedBlobs);
        Assert.Contains("copy its blobs into COS_PERSISTENT's blob store", plan.ToString(), StringComparison.Ordinal);
        using var json = JsonDocument.Parse(plan.ToJson());
        Assert.True(json.RootElement.GetProperty("seedBlobs").GetBoolean());
    }
}
