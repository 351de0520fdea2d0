using Basalt.Agent.Install;

namespace Basalt.Agent.Tests.Install;

public sealed class RunningSystemProbeTests
{
    [Fact]
    public void Mountinfo_lines_give_block_mounts_with_unescaped_paths()
    {
        const string text = """
            22 1 252:3 / / ro,relatime shared:1 - ext4 /dev/vda3 ro
            23 22 0:21 / /proc rw - proc proc rw
            24 22 252:1 / /mnt/with\040space rw - ext4 /dev/vda1 rw
            """;

        var mounts = RunningSystemProbe.ParseMountInfo(text);

        Assert.Equal(2, mounts.Count);
        Assert.Equal(new MountedDevice(252, 3, "/", "/dev/vda3"), mounts[0]);
        Assert.Equal("/mnt/with space", mounts[1].MountPoint);
    }

    [Fact]
    public void A_mounted_partition_belongs_to_its_whole_disk()
    {
        using var machine = new FakeMachine();
        machine.AddDisk("vda", FakeMachine.GiB);
        machine.AddDisk("vdb", FakeMachine.GiB);
        machine.Mount("vda", "/");

        Assert.Equal(["/"], machine.Probe.MountPointsOn("vda"));
        Assert.Empty(machine.Probe.MountPointsOn("vdb"));
    }
}
