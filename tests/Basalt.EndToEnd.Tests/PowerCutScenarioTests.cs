using System.Globalization;
using System.Text.RegularExpressions;
using Basalt.Agent.Journal;
using Basalt.Agent.Upgrade;
using Basalt.Build.Artifacts;
using Basalt.Disk;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Gpt;
using Basalt.Disk.Layout;
using Basalt.Oci.Images;
using Basalt.Oci.Layers;
using Basalt.Oci.References;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// Power cuts during <c>basalt upgrade</c>: the guest resets itself (SysRq <c>b</c>, no sync) at a chosen point
/// (<see cref="PowerCutSetting"/>), QEMU stays up and the machine boots again. After every cut the node must boot a
/// consistent system (the old image or the new one, never a mix: the <c>basalt-recover</c> unit has finished or undone
/// the journal, COS_STATE holds a COS_ACTIVE active.img, a COS_PASSIVE passive.img and no transition.img), data on
/// COS_PERSISTENT must be intact, and the next <c>basalt upgrade</c> must complete and leave the node on v2.
/// The upgrade source (v2 = the fixture's OS plus a marker file, saved as an OCI layout by Basalt's own image code)
/// lies on COS_PERSISTENT, so no registry is involved.
/// <para>
/// The cut points come from <c>BASALT_POWERCUT_POINTS</c> (comma-separated <see cref="PowerCutSetting"/> forms, or
/// <c>all</c> for every journal step boundary plus three seeded instants of the image write); CI's default is one
/// instant of the image write (undone at boot) and the boundary right after the exchange (completed at boot).
/// <c>BASALT_POWERCUT_REPORT</c> names a file that gets one line per cut point and outcome, for <c>bench/powercut</c>.
/// </para>
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class PowerCutScenarioTests : IDisposable
{
    private const string PointsVariable = "BASALT_POWERCUT_POINTS";
    private const string ReportVariable = "BASALT_POWERCUT_REPORT";
    private const string DefaultPoints = "image-write:seed=1,Exchanging:after";

    /// <summary>The file only v2 has.</summary>
    private const string Marker = "/etc/basalt-powercut-v2";
    private const string SourceDirectory = "powercut-v2";
    private const string SourceTag = "v2";
    private const string Source = "oci-layout:/usr/local/" + SourceDirectory + ":" + SourceTag;
    private const string StateImages = "/run/initramfs/cos-state/cOS";
    private const string KeptTrees = "/usr/local/.basalt/trees";

    /// <summary>Room on COS_PERSISTENT for the source, the node's blob store and the staged tree.</summary>
    private const long PersistentGrowth = 3 * ByteSize.GiB;

    private static readonly TimeSpan UpgradeTimeout = TimeSpan.FromMinutes(45);

    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-powercut");

    /// <summary>The name v2's unpacked tree is kept under (its chain ID): the only tree an upgrade here ever keeps.</summary>
    private string _v2TreeName = string.Empty;

    public PowerCutScenarioTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        Requires.Tool("sgdisk", "gdisk");
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task An_upgrade_cut_by_a_hard_reset_boots_a_consistent_system_keeps_persistent_data_and_the_next_upgrade_completes()
    {
        var points = CutPoints();
        var disk = await _os.CopyDiskAsync(_temp.Path);
        await PutSourceOnPersistentAsync(disk);
        var report = Environment.GetEnvironmentVariable(ReportVariable) is { Length: > 0 } path ? path : null;

        await using var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm"), _os.Runner);
        await guest.CheckAsync("systemctl cat basalt-recover.service >/dev/null", "basalt init installed the boot-time recovery unit");
        await guest.CheckAsync(
            "mkdir -p /home/e2e && head -c 4M /dev/urandom > /usr/local/powercut-data && head -c 64K /dev/urandom > /home/e2e/powercut-data && " +
            "sha256sum /usr/local/powercut-data /home/e2e/powercut-data > /usr/local/powercut-data.sha256 && sync",
            "persistent data is written before the first cut");
        var runningV2 = false;

        for (var index = 0; index < points.Count; index++)
        {
            var point = points[index];
            if (runningV2)
            {
                // Each cut needs an upgrade to cut: back to v1 for good, and boot it.
                await guest.CheckAsync("basalt rollback", "a rollback puts v1 back as active before the next cut");
                await guest.RebootAsync();
                await guest.CheckAsync($"test ! -e {Marker}", "after the rollback the node runs v1");
            }

            _output.WriteLine($"cut {index + 1}/{points.Count}: {point.Text}");
            await UpgradeUntilResetAsync(guest, point);
            Report(report, point, "booted");
            runningV2 = await ExpectConsistentAsync(guest, point);
            await guest.CheckAsync("sha256sum -c /usr/local/powercut-data.sha256", $"persistent data is intact after the cut at {point.Text}");
            Report(report, point, "data-intact");

            if (runningV2)
            {
                // The boot already completed the upgrade: the next one has nothing left to do and says so.
                await guest.ExpectOutputAsync(
                    $"basalt upgrade --source {Source} 2>&1",
                    "nothing was changed",
                    $"after the cut at {point.Text} the next basalt upgrade finds v2 active and completes at once");
                Report(report, point, "upgrade-completed");
            }
            else if (index == points.Count - 1)
            {
                await RunLongAsync(guest, $"basalt upgrade --source {Source}", $"after the cut at {point.Text} the next basalt upgrade completes");
                await guest.RebootAsync();
                await guest.CheckAsync($"test -e {Marker}", $"after the cut at {point.Text} and a completed upgrade the next boot is v2");
                Report(report, point, "upgrade-completed");
                runningV2 = true;
            }
            else
            {
                // The next cut point's upgrade is the next upgrade after this cut: it must get at least as far as its cut.
                Report(report, point, "upgrade-completed-by-next-point");
            }
        }

        Assert.True(runningV2, "the node ends on v2");
        await guest.ExpectOutputAsync("grep -c . /usr/local/powercut-data.sha256", "2", "the data checksums are still there");
        await guest.PowerOffAsync();
    }

    private static List<PowerCutPoint> CutPoints()
    {
        var text = Environment.GetEnvironmentVariable(PointsVariable) is { Length: > 0 } given ? given : DefaultPoints;
        if (text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return [.. PowerCutSetting.EveryStepBoundary(), .. Enumerable.Range(1, 3).Select(seed => new ImageWritePowerCut(null, seed))];
        }

        return [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(PowerCutSetting.Parse)];
    }

    /// <summary>Starts the upgrade with the fault setting and waits for the reset and the next login.</summary>
    private async Task UpgradeUntilResetAsync(BootedDisk guest, PowerCutPoint point)
    {
        var machine = guest.Machine;
        var start = machine.ConsoleLength;
        // The survival marker is split in the typed text so that an echo never matches it.
        await machine.TypeAsync($"{PowerCutSetting.EnvironmentVariable}='{point.Text}' basalt upgrade --source {Source}; echo \"__POWERCUT\"\"_SURVIVED $?\"\n");
        var outcome = await machine.WaitForAsync(new Regex(@"fault injection: hard reset now|__POWERCUT_SURVIVED \d+"), UpgradeTimeout, start);
        Assert.True(
            outcome.Value.StartsWith("fault injection", StringComparison.Ordinal),
            $"the upgrade ran to its end instead of being cut at {point.Text}\n--- console tail ---\n{guest.ConsoleTail()}");
        var resetAt = start + machine.Console[start..].IndexOf("fault injection: hard reset now", StringComparison.Ordinal);
        // A new boot shows up as the kernel's banner after the reset; the VM process must still be running.
        await machine.WaitForAsync(new Regex(@"Linux version \d"), BootedDisk.BootTimeout, resetAt);
        Assert.False(machine.HasExited, "QEMU stays up across the guest's reset");
        await guest.LoginAfterRebootAsync(resetAt);
        _output.WriteLine($"cut at {point.Text}: the guest reset and booted again");
    }

    /// <summary>Checks the node is whole after a cut; returns whether it runs v2.</summary>
    private async Task<bool> ExpectConsistentAsync(BootedDisk guest, PowerCutPoint point)
    {
        var at = $"after the cut at {point.Text}";
        await guest.CheckAsync("test ! -e /usr/local/.basalt/journal.json", $"{at} the boot-time recovery left no journal behind");
        await guest.CheckAsync("test ! -e /usr/local/.basalt/staging", $"{at} no staged tree is left");
        await guest.CheckAsync($"test ! -e {StateImages}/transition.img", $"{at} no transition image is left");
        await guest.ExpectOutputAsync($"blkid -o value -s LABEL {StateImages}/active.img", "COS_ACTIVE", $"{at} active.img is labelled COS_ACTIVE");
        await guest.ExpectOutputAsync($"blkid -o value -s LABEL {StateImages}/passive.img", "COS_PASSIVE", $"{at} passive.img is labelled COS_PASSIVE");
        await guest.ExpectOutputAsync("cat /proc/cmdline", "/cOS/active.img", $"{at} the node booted its active image");
        await guest.CheckAsync("basalt state", $"{at} basalt state reads the node");
        var recovery = await guest.CheckAsync("journalctl -b -u basalt-recover.service --no-pager -o cat 2>&1 || true", "the recovery unit's log is readable");
        _output.WriteLine($"{at}: basalt-recover said: {recovery}");
        await ExpectWholeKeptTreesAsync(guest, at);
        var v2 = (await guest.Machine.RunAsync($"test -e {Marker}", BootedDisk.CommandTimeout)).ExitCode == 0;
        var digests = await guest.CheckAsync("basalt state --output json", $"{at} basalt state --output json works");
        _output.WriteLine($"{at}: the node runs {(v2 ? "v2" : "v1")}");
        if (point is StepPowerCut { Step: > SwapStep.Exchanging } or StepPowerCut { Step: SwapStep.Exchanging, Side: StepSide.After })
        {
            Assert.True(v2, $"{at} the images were already exchanged, so the boot is v2\n{digests}");
            Assert.Contains("completed", recovery, StringComparison.Ordinal);
        }
        else if (point is ImageWritePowerCut or StepPowerCut { Step: <= SwapStep.Preparing })
        {
            Assert.False(v2, $"{at} the new image was not complete, so the boot is v1");
            Assert.Contains("rolled back", recovery, StringComparison.Ordinal);
        }

        return v2;
    }

    /// <summary>
    /// A kept tree claims its layers by its name, and the next upgrade builds on it without looking inside: after a cut,
    /// every tree under a chain name must be v2's and whole (a tree being dropped is renamed out of its chain first).
    /// </summary>
    private async Task ExpectWholeKeptTreesAsync(BootedDisk guest, string at)
    {
        var listing = await guest.CheckAsync($"ls -1A {KeptTrees} 2>/dev/null || true", $"{at} the kept trees can be listed");
        var names = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(name => !name.StartsWith(".drop-", StringComparison.Ordinal)).ToList();
        _output.WriteLine($"{at}: kept trees: {(names.Count == 0 ? "none" : string.Join(", ", names))}");
        foreach (var name in names)
        {
            Assert.True(name == _v2TreeName, $"{at} {KeptTrees} holds '{name}', which is not the chain of the only image staged here ({_v2TreeName})");
            await guest.CheckAsync($"test -f {KeptTrees}/{name}{Marker} && test -x {KeptTrees}/{name}/usr/bin/basalt && test -d {KeptTrees}/{name}/usr/lib", $"{at} the kept tree {name} holds the whole of v2");
        }
    }

    private static async Task RunLongAsync(BootedDisk guest, string command, string proves)
    {
        var result = await guest.Machine.RunAsync(command + " 2>&1", UpgradeTimeout);
        Assert.True(result.ExitCode == 0, $"{proves}: '{command}' exited {result.ExitCode}\n--- output ---\n{result.Output}\n--- console tail ---\n{guest.ConsoleTail()}");
    }

    private static void Report(string? report, PowerCutPoint point, string outcome)
    {
        if (report is not null)
        {
            File.AppendAllText(report, $"{point.Text} {outcome}\n");
        }
    }

    /// <summary>
    /// Saves v2 (the fixture's tree plus <see cref="Marker"/>) as an OCI layout, grows the copied disk and remakes its
    /// (empty) COS_PERSISTENT over the larger partition, filled with the layout.
    /// </summary>
    private async Task PutSourceOnPersistentAsync(string disk)
    {
        var tree = _temp.Combine("v2-rootfs");
        Directory.CreateDirectory(tree);
        await _os.Runner.RunAsync(new ToolInvocation("cp", ["-a", "--reflink=auto", _os.RootDirectory + "/.", tree + "/"]) { Package = "coreutils" });
        await File.WriteAllTextAsync(Path.Combine(tree, Marker.TrimStart('/')), "basalt power-cut scenario v2\n");
        var content = _temp.Combine("persistent");
        using (var registry = new RegistryClient())
        {
            var images = new ImageService(new BlobStore(_temp.Combine("blobs")), registry);
            var saved = await images.SaveAsync(ImageSource.Parse(ImageSource.DirectoryPrefix + tree), Path.Combine(content, SourceDirectory), SourceTag);
            _output.WriteLine($"v2 saved as an OCI layout: {saved.Image.Digest}");
            _v2TreeName = KeptTreeStore.NameOf(LayerChain.ChainId(saved.Image.Config.RootFs.DiffIds).Value);
        }

        Directory.Delete(tree, recursive: true);

        var size = await PersistentPartition.GrowAndFillAsync(_os.Runner, disk, PersistentGrowth, content);
        _output.WriteLine($"COS_PERSISTENT is now {ByteSize.Format(size)} and holds the v2 layout; upgrade source {Source}");
        Directory.Delete(content, recursive: true);
    }
}
