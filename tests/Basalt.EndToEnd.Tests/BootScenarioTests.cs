using Basalt.Boot.Grub;
using Basalt.Build.Artifacts;
using Basalt.Disk.Layout;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// The boot menu's own choices on a disk built by <c>basalt build disk</c>, in one VM scenario of two boots: a one-shot
/// selection of recovery, then the automatic fallback to passive when active.img is gone. The active boot, its reboot and
/// the counted fallback from a failing image are proven by the lifecycle scenario (<see cref="UpgradeScenarioTests"/>).
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class BootScenarioTests : IDisposable
{
    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-boot");

    public BootScenarioTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Selecting_recovery_boots_the_squashfs_once_then_without_active_img_grub_falls_back_to_passive_on_its_own()
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var state = OfflineExt4Partition.Open(_os.Runner, disk, KairosLayout.StateLabel);
        await state.RemoveAsync("/cOS/active.img");
        Assert.False(await state.ExistsAsync("/cOS/active.img"));
        var selector = new BootEntrySelector(_os.Runner);
        await selector.SelectNextAsync(disk, GrubMenu.RecoveryEntry);

        // Boot 1: the selection wins over the default (which would fall back to passive).
        await using (var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm-recovery"), _os.Runner))
        {
            await guest.CheckAsync("test -e /run/cos/recovery_mode", "the recovery boot writes /run/cos/recovery_mode");
            await guest.ExpectOutputAsync("findmnt -n -o FSTYPE /", "squashfs", "recovery runs from the squashfs");
            await guest.ExpectOutputAsync("cat /proc/cmdline", "/cOS/recovery.squashfs", "GRUB booted the selected recovery entry");
            await guest.PowerOffAsync();
        }

        var afterSelection = await selector.ReadAsync(disk);
        Assert.True(string.IsNullOrEmpty(afterSelection.Get(GrubEnvironmentKeys.NextEntry)), "GRUB clears next_entry once it used it (one shot)");

        // Boot 2: no selection left, active.img missing: GRUB says so and boots the next in line, passive.
        await using (var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm-passive"), _os.Runner))
        {
            await NodeChecks.ExpectRootImageAsync(guest, "/cOS/passive.img", KairosLayout.PassiveImageLabel, "passive");
            await guest.CheckAsync("test ! -e /run/cos/active_mode", "a passive boot is not flagged active");
            Assert.Contains("/cOS/active.img not found", guest.Machine.Console, StringComparison.Ordinal);
            await guest.PowerOffAsync();
        }
    }
}
