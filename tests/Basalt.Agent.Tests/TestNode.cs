using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Boot.Grub;
using Basalt.Testing;

namespace Basalt.Agent.Tests;

/// <summary>A running node's files under a temporary directory: grubenv, sentinels, command line, slots, history.</summary>
internal sealed class TestNode : IDisposable
{
    public const string ActiveCmdline = "BOOT_IMAGE=(loop0)/boot/vmlinuz console=ttyS0 root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img panic=5";
    public const string PassiveCmdline = "BOOT_IMAGE=(loop0)/boot/vmlinuz console=ttyS0 root=LABEL=COS_PASSIVE cos-img/filename=/cOS/passive.img panic=5";
    public const string RecoveryCmdline = "BOOT_IMAGE=(loop0)/boot/vmlinuz root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs panic=5";

    private readonly TempDirectory _directory = new("node");

    public TestNode()
    {
        Paths = NodePaths.Under(_directory.Path);
        foreach (var directory in new[] { Paths.StateMount, Paths.RecoveryMount, Paths.OemMount, Paths.PersistentMount, Paths.SentinelDirectory })
        {
            Directory.CreateDirectory(directory);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Paths.KernelCommandLine)!);
        Directory.CreateDirectory(Path.GetDirectoryName(Paths.MountInfo)!);
    }

    public NodePaths Paths { get; }

    public string Root => _directory.Path;

    public FileLifecycleHistory History => new(Paths.History);

    public TestNode Booted(string slot)
    {
        var (cmdline, mode) = slot switch
        {
            SlotNames.Active => (ActiveCmdline, "active"),
            SlotNames.Passive => (PassiveCmdline, "passive"),
            _ => (RecoveryCmdline, "recovery"),
        };
        File.WriteAllText(Paths.KernelCommandLine, cmdline + "\n");
        File.WriteAllText(Path.Combine(Paths.SentinelDirectory, mode + "_mode"), "1");
        return this;
    }

    public TestNode WithGrubenv(params (string Key, string Value)[] variables)
    {
        var environment = GrubEnvironment.Create();
        foreach (var (key, value) in variables)
        {
            environment.Set(key, value);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Paths.GrubEnvironment)!);
        environment.Save(Paths.GrubEnvironment);
        return this;
    }

    public GrubEnvironment Grubenv => GrubEnvironment.Load(Paths.GrubEnvironment);

    public TestNode WithSlots(params SlotInfo[] slots)
    {
        new SlotStore(Paths.SlotsFile).Write(SlotTable.From(slots));
        return this;
    }

    public void Dispose() => _directory.Dispose();
}
