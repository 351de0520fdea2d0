using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Agent.Reset;
using Basalt.Agent.Tests.Install;
using Basalt.Build.Artifacts;
using Basalt.Disk.Devices;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Reset;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class ResetIntegrationTests
{
    [Fact]
    public async Task Reset_remakes_active_and_passive_from_recovery_and_formats_persistent_when_asked()
    {
        Requires.Root();
        Requires.Tool("losetup", "mount");
        Requires.Tool("mount", "mount");
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("grub-mkimage", "grub-common");
        using var temp = new TempDirectory("reset-loop");
        var tree = TinyTree.Create(temp.Combine("tree"));
        File.WriteAllText(Path.Combine(tree, "etc", "from-recovery"), "recovery tree\n");
        var disk = temp.Combine("disk.raw");
        var runner = new NoRebootRunner();
        await new DiskArtifactBuilder(runner).BuildAsync(new DiskArtifactOptions { RootDirectory = tree, OutputPath = disk, GrubModulesDirectory = DiskArtifactPlanner.HostGrubModulesDirectory });

        // The node as recovery sees it: the recovery image at hand, a broken active image, a file on persistent.
        var state = OfflineExt4Partition.Open(runner, disk, KairosLayout.StateLabel);
        await state.RemoveAsync("/cOS/active.img");
        var persistentBefore = OfflineExt4Partition.Open(runner, disk, KairosLayout.PersistentLabel);
        await persistentBefore.WriteFileAsync("/user-data", "precious\n"u8.ToArray());
        var paths = new NodePaths { RecoveryMount = temp.Combine("recovery"), OemMount = temp.Combine("oem") };
        Directory.CreateDirectory(paths.OemMount);
        var exhausted = Boot.Grub.GrubEnvironment.Create();
        exhausted.Set(Boot.Grub.GrubEnvironmentKeys.ActiveTriesLeft, "0");
        exhausted.Set(Boot.Grub.GrubEnvironmentKeys.PassiveTriesLeft, "0");
        exhausted.Set(Boot.Grub.GrubEnvironmentKeys.FallbackReason, "passive: no tries left");
        exhausted.Save(paths.GrubEnvironment);
        Directory.CreateDirectory(Path.GetDirectoryName(paths.RecoverySquashfs)!);
        var squashfs = await OfflineExt4Partition.Open(runner, disk, KairosLayout.RecoveryLabel).ReadFileAsync("/cOS/recovery.squashfs");
        await File.WriteAllBytesAsync(paths.RecoverySquashfs, squashfs!);
        var links = temp.Combine("dev", "disk", "by-partlabel");
        Directory.CreateDirectory(links);
        File.WriteAllText(temp.Combine("recovery_mode"), string.Empty);
        var mountInfo = temp.Combine("mountinfo");
        File.WriteAllText(mountInfo, string.Empty);

        await using (var stateLoop = await LoopDevice.AttachPartitionAsync(runner, disk, KairosLayout.StateLabel))
        await using (var persistentLoop = await LoopDevice.AttachPartitionAsync(runner, disk, KairosLayout.PersistentLabel))
        {
            File.CreateSymbolicLink(Path.Combine(links, KairosLayout.StateLabel), stateLoop.Device);
            File.CreateSymbolicLink(Path.Combine(links, KairosLayout.PersistentLabel), persistentLoop.Device);
            var plan = ResetPlanner.Plan(new ResetRequest
            {
                Paths = paths,
                ResetPersistent = true,
                Reboot = true,
                RecoveryModeSentinel = temp.Combine("recovery_mode"),
                DeviceLinkDirectory = temp.Combine("dev", "disk"),
                WorkDirectory = temp.Combine("work"),
            });
            var stages = new LifecycleStages(new Config.Stages.StageRunner(runner), []);

            // At each checkpoint the journal is really written out; then the disk itself (what GRUB reads, the journal
            // not replayed) must name the same files as the mounted view.
            var onDisk = new List<string>();
            var grubenvDirectory = Path.GetDirectoryName(paths.GrubEnvironment)!;
            var checkpoint = new RecordingJournalCheckpoint(mounted =>
            {
                if (mounted == grubenvDirectory)
                {
                    return; // the grubenv's own checkpoint (GrubEnvironment.SaveForBoot), here on the host's disk
                }

                Assert.Equal(JournalCheckpointOutcome.Written, Posix.CheckpointJournal(mounted));
                onDisk.Add(string.Join(' ', StateNames.Select(name => DiskNames(runner, stateLoop.Device, mounted, name))));
            });
            var result = await new ResetExecutor(runner, stages, path => new FileLifecycleHistory(path), new RunningSystemProbe(mountInfo), checkpoint: checkpoint).ExecuteAsync(plan);

            Assert.True(result.PersistentFormatted);
            Assert.Equal(["reboot"], Assert.Single(runner.PowerCalls).Arguments);
            Assert.Equal(
                [
                    "passive.img=current active.img=absent grub.cfg=current",
                    "passive.img=current active.img=current grub.cfg=current",
                    "passive.img=current active.img=current grub.cfg=current",
                ],
                onDisk);
            Assert.Equal(grubenvDirectory, checkpoint.Paths[^1]);
        }

        var counters = Boot.Grub.GrubEnvironment.Load(paths.GrubEnvironment);
        Assert.Null(counters.Get(Boot.Grub.GrubEnvironmentKeys.ActiveTriesLeft));
        Assert.Null(counters.Get(Boot.Grub.GrubEnvironmentKeys.PassiveTriesLeft));
        Assert.Null(counters.Get(Boot.Grub.GrubEnvironmentKeys.FallbackReason));

        state = OfflineExt4Partition.Open(runner, disk, KairosLayout.StateLabel);
        Assert.True(await state.ExistsAsync("/cOS/active.img"));
        Assert.True(await state.ExistsAsync("/cOS/passive.img"));
        Assert.True(await state.ExistsAsync("/grub2/grub.cfg"));
        var active = temp.Combine("active.img");
        await File.WriteAllBytesAsync(active, (await state.ReadFileAsync("/cOS/active.img"))!);
        var content = await runner.RunAsync(new ToolInvocation("debugfs", ["-R", "cat /etc/from-recovery", active]));
        Assert.Equal("recovery tree", content.StandardOutput.Trim());
        var label = await runner.RunAsync(new ToolInvocation("e2label", [active]));
        Assert.Equal(KairosLayout.ActiveImageLabel, label.StandardOutput.Trim());

        var persistent = OfflineExt4Partition.Open(runner, disk, KairosLayout.PersistentLabel);
        Assert.False(await persistent.ExistsAsync("/user-data"));
        var history = System.Text.Encoding.UTF8.GetString((await persistent.ReadFileAsync("/.basalt/history.jsonl"))!);
        Assert.Contains("\"operation\":\"reset\"", history, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Combine("work")));
    }

    private static readonly string[] StateNames = ["/cOS/passive.img", "/cOS/active.img", "/grub2/grub.cfg"];

    /// <summary>
    /// "NAME=current" when the disk itself names the inode the mount shows, "NAME=stale" when it names another,
    /// "NAME=absent" when neither has it.
    /// </summary>
    private static string DiskNames(IToolRunner runner, string device, string mount, string path)
    {
        var stat = runner.RunAsync(new ToolInvocation("debugfs", ["-c", "-R", $"stat {path}", device]) { Package = "e2fsprogs" }).GetAwaiter().GetResult().StandardOutput;
        var match = System.Text.RegularExpressions.Regex.Match(stat, @"Inode:\s+(\d+)");
        var mounted = Path.Combine(mount, path.TrimStart('/'));
        var state = (match.Success, File.Exists(mounted)) switch
        {
            (false, false) => "absent",
            (true, true) when ulong.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) == Posix.GetStatus(mounted).Inode => "current",
            _ => "stale",
        };
        return $"{Path.GetFileName(path)}={state}";
    }
}
