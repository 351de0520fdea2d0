using System.Text.Json.Nodes;
using Basalt.Config.Stages;

namespace Basalt.Config.Tests.Stages;

public sealed class LayoutPlannerTests
{
    private const string Sfdisk = """
    {"partitiontable": {"label": "gpt", "id": "X", "device": "/dev/vda", "unit": "sectors", "firstlba": 34, "lastlba": 41943006, "sectorsize": 512,
      "partitions": [
        {"node": "/dev/vda1", "start": 2048, "size": 131072, "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "uuid": "U1", "name": "efi"},
        {"node": "/dev/vda2", "start": 133120, "size": 2097152, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "uuid": "U2", "name": "oem"}
      ]}}
    """;

    private static StageLayout Layout(string json) =>
        Assert.Single(StageParser.Parse(JsonNode.Parse($$"""{"boot": [{"layout": {{json}}}]}"""), "t").StepsOf("boot")).Layout!;

    private static DiskGeometry Disk() =>
        LayoutPlanner.ParseSfdisk(Sfdisk, new Dictionary<string, string> { ["/dev/vda2"] = "ext4" });

    [Fact]
    public void Sfdisk_json_is_read()
    {
        var disk = Disk();
        Assert.Equal(("/dev/vda", 512, 41943006L), (disk.Device, disk.SectorSize, disk.LastUsableSector));
        Assert.Equal([1, 2], disk.Partitions.Select(p => p.Number));
        Assert.Equal(("oem", "ext4", 2230271L), (disk.Partitions[1].Name, disk.Partitions[1].FileSystem, disk.Partitions[1].EndSector));
    }

    [Fact]
    public void Expanding_the_last_partition_recreates_it_at_the_same_start_and_grows_ext4()
    {
        var plan = LayoutPlanner.Plan(Layout("""{"device": {"path": "/dev/vda"}, "expand_partition": {"size": 0}}"""), Disk());
        var commands = plan.Operations.SelectMany(o => o.Commands).Select(c => c.CommandLine).ToList();
        Assert.Equal(
        [
            "sgdisk --move-second-header /dev/vda",
            "sgdisk --delete=2 --new=2:133120:41943006 --typecode=2:0FC63DAF-8483-4772-8E79-3D69D8477DE4 --partition-guid=2:U2 --change-name=2:oem /dev/vda",
            "partx -u /dev/vda",
            "e2fsck -f -p /dev/vda2",
            "resize2fs /dev/vda2",
        ], commands);
    }

    [Fact]
    public void An_expansion_smaller_than_the_partition_does_nothing()
    {
        var plan = LayoutPlanner.Plan(Layout("""{"device": {"path": "/dev/vda"}, "expand_partition": {"size": 10}}"""), Disk());
        Assert.Contains(plan.Operations, o => o.Description.Contains("already at least 10 MiB", StringComparison.Ordinal) && o.Commands.Count == 0);
    }

    [Fact]
    public void Added_partitions_are_aligned_labelled_formatted_and_the_last_takes_the_rest()
    {
        var plan = LayoutPlanner.Plan(Layout("""
        {"device": {"label": "COS_OEM"}, "expand_partition": {"size": 2048},
         "add_partitions": [{"fsLabel": "COS_STATE", "size": 8192, "pLabel": "state", "filesystem": "ext4"},
                            {"pLabel": "oem", "size": 64},
                            {"fsLabel": "COS_GRUB", "size": 512, "filesystem": "fat32", "bootable": true},
                            {"fsLabel": "COS_PERSISTENT", "filesystem": "xfs"}]}
        """), Disk());
        var commands = plan.Operations.SelectMany(o => o.Commands).Select(c => c.CommandLine).ToList();
        // oem grows to 2 GiB: 133120 + 4194304 - 1 = 4327423; next start aligned to 2048 → 4327424.
        Assert.Contains("sgdisk --new=3:4327424:21104639 --typecode=3:8300 --change-name=3:state /dev/vda", commands);
        Assert.Contains("mkfs.ext4 -F -L COS_STATE /dev/vda3", commands);
        Assert.Contains(plan.Operations, o => o.Description == "a partition labelled oem exists; not added again");
        Assert.Contains("sgdisk --new=4:21104640:22153215 --typecode=4:EF00 /dev/vda", commands);
        Assert.Contains("mkfs.vfat -F 32 -n COS_GRUB /dev/vda4", commands);
        Assert.Contains("sgdisk --new=5:22153216:41943006 --typecode=5:8300 /dev/vda", commands);
        Assert.Contains("mkfs.xfs -f -L COS_PERSISTENT /dev/vda5", commands);
    }

    [Fact]
    public void Init_disk_starts_from_an_empty_table_and_nvme_names_get_p()
    {
        var disk = Disk() with { Device = "/dev/nvme0n1" };
        var plan = LayoutPlanner.Plan(Layout("""{"device": {"path": "/dev/nvme0n1", "init_disk": true}, "add_partitions": [{"size": 100, "filesystem": "noformat"}]}"""), disk);
        var commands = plan.Operations.SelectMany(o => o.Commands).Select(c => c.CommandLine).ToList();
        Assert.Equal(["sgdisk --zap-all /dev/nvme0n1", "sgdisk --clear /dev/nvme0n1", "sgdisk --new=1:2048:206847 --typecode=1:8300 /dev/nvme0n1", "partx -u /dev/nvme0n1"], commands);
        Assert.Equal("/dev/nvme0n1p1", LayoutPlanner.PartitionNode("/dev/nvme0n1", 1));
    }

    [Fact]
    public void A_partition_that_does_not_fit_is_refused_before_anything_runs()
    {
        Assert.Throws<StageStepException>(() => LayoutPlanner.Plan(Layout("""{"device": {"path": "/dev/vda"}, "add_partitions": [{"size": 30000}]}"""), Disk()));
    }

    [Fact]
    public async Task Layout_on_a_root_that_is_not_the_host_is_not_applied()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """{"boot": [{"layout": {"device": {"path": "/dev/vda"}, "expand_partition": {"size": 0}}}]}""");
        Assert.True(result.Succeeded);
        Assert.Contains("not applied", Assert.Single(Assert.Single(result.Steps).Actions), StringComparison.Ordinal);
        Assert.Empty(h.Tools.Calls);
    }
}
