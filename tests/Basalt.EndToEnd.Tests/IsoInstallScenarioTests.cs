using System.Text.Json;
using System.Text.RegularExpressions;
using Basalt.Agent.Install;
using Basalt.Agent.Slots;
using Basalt.Build.Artifacts;
using Basalt.Build.Vm;
using Basalt.Platform;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// The live ISO as an unattended installer, in two boots. Boot 1: the ISO built by <c>basalt build iso</c> from the
/// fixture's OS tree, with a cloud-config setting <c>install.auto: true</c>, <c>install.device: auto</c> and
/// <c>install.poweroff: true</c>, boots in live mode next to a blank virtio disk; the auto-install unit installs onto
/// the disk (the live medium is not a candidate) and the machine powers itself off. Boot 2: the disk alone boots the
/// installed system in active mode with the cloud-config applied; <c>basalt state</c> reads it (the three slots hold the
/// image the medium's slots file names, by digest; the install is in the history), and the passive image and the recovery squashfs are checked to hold the
/// same system without booting them. BIOS boot of the ISO is proven without a VM, by the El Torito catalog
/// (Basalt.Build.Tests' IsoArtifactBuilderIntegrationTests).
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class IsoInstallScenarioTests : IDisposable
{
    private const string Hostname = "basalt-iso-installed";
    private const string AfterInstallMarker = "BASALT-E2E-AFTER-INSTALL";

    private const string InstallerConfig = $$"""
        #cloud-config
        hostname: {{Hostname}}
        install:
          auto: true
          device: auto
          poweroff: true
        stages:
          after-install:
            - name: e2e marker on the console
              commands:
                - echo {{AfterInstallMarker}} > /dev/ttyS0
          boot:
            - name: e2e marker file
              files:
                - path: /etc/basalt-iso-marker
                  permissions: 0644
                  content: "configured by the live ISO's cloud-config"
        """;

    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(60);

    /// <summary>The image the medium says its squashfs holds.</summary>
    private const string MediumImage = "registry.example/basalt/os:iso";

    private const string MediumDigest = "sha256:5d1c0c5d1c0c5d1c0c5d1c0c5d1c0c5d1c0c5d1c0c5d1c0c5d1c0c5d1c0c5d1c";

    private static readonly DateTimeOffset MediumBuildDate = new(2026, 11, 20, 7, 0, 0, TimeSpan.Zero);

    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-iso");

    public IsoInstallScenarioTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        Requires.Tool("xorriso", "xorriso");
        Requires.Tool("mcopy", "mtools");
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Live_iso_with_install_auto_installs_onto_a_blank_disk_and_powers_off_then_the_disk_boots_active_with_the_config()
    {
        var config = _temp.Combine("installer.yaml");
        await File.WriteAllTextAsync(config, InstallerConfig);
        var iso = _temp.Combine("basalt.iso");
        // As basalt build iso IMAGE names the image its squashfs holds: the install must record it by digest.
        var mediumSlots = _temp.Combine("medium-slots.json");
        await File.WriteAllBytesAsync(mediumSlots, SlotStore.Serialize(InstallSlots.Describe(MediumImage, MediumDigest, MediumBuildDate, DateTimeOffset.UtcNow)));
        var built = await new IsoArtifactBuilder(_os.Runner).BuildAsync(new IsoArtifactOptions
        {
            RootDirectory = _os.RootDirectory,
            OutputPath = iso,
            CloudConfigPath = config,
            MediumFiles = [new DiskContentFile(mediumSlots, "/" + InstallSlots.MediumFileName)],
        });
        _output.WriteLine($"ISO: {built.IsoBytes} bytes, squashfs {built.SquashfsBytes} bytes, BIOS {built.BootsBios}, {built.Elapsed.TotalSeconds:0} s");

        var disk = _temp.Combine("target.raw");
        await _os.Runner.RunAsync(new ToolInvocation("truncate", ["-s", "8G", disk]) { Package = "coreutils" });

        await InstallFromIsoAsync(iso, disk);

        await using var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm-installed"), _os.Runner);
        await guest.CheckAsync("test -e /run/cos/active_mode && test ! -e /run/cos/live_mode", "the installed disk boots in active mode, not live");
        await guest.ExpectOutputAsync("blkid -o value -s LABEL $(findmnt -n -o SOURCE /)", "COS_ACTIVE", "the root is the installed active.img (COS_ACTIVE)");
        await guest.ExpectOutputAsync("hostname", Hostname, "the hostname from the ISO's cloud-config is applied on the installed node");
        await guest.ExpectOutputAsync("cat /etc/basalt-iso-marker", "configured by the live ISO", "the ISO's boot stage runs on the installed node");
        await guest.ExpectOutputAsync("cat /oem/90_custom.yaml", "auto: true", "the merged cloud-config was written to COS_OEM by the install");
        await guest.ExpectOutputAsync("blkid -o value -s LABEL", "COS_RECOVERY", "the installed disk has its recovery partition");
        await guest.ExpectOutputAsync("systemctl show -p ActiveState -p ConditionResult basalt-auto-install.service", "ConditionResult=no", "the auto-install unit does not run on an installed node");
        await ExpectStateAsync(guest);
        await ExpectPassiveAndRecoveryUsableAsync(guest);
    }

    /// <summary>
    /// <c>basalt state --output json</c> on the installed node: active mode, both slot images present, the three slots
    /// recorded as holding the same image, the install in the history, the partitions mounted.
    /// </summary>
    private async Task ExpectStateAsync(BootedDisk guest)
    {
        // Kernel messages on the shared serial console would land inside the JSON.
        await guest.CheckAsync("dmesg -n 1", "the kernel's console messages are quietened");
        var json = await guest.CheckAsync("basalt state --output json", "basalt state reads the installed node");
        _output.WriteLine($"basalt state on the installed node:\n{json}");
        using var state = ParseJson(json, "basalt state --output json");
        var root = state.RootElement;
        Assert.Equal("active", root.GetProperty("bootMode").GetString());
        Assert.Equal("active", root.GetProperty("bootedSlot").GetString());
        var slots = root.GetProperty("slots").EnumerateArray().ToDictionary(s => s.GetProperty("slot").GetString()!, StringComparer.Ordinal);
        Assert.True(slots["active"].GetProperty("imagePresent").GetBoolean(), $"basalt state sees the active image\n{json}");
        Assert.True(slots["passive"].GetProperty("imagePresent").GetBoolean(), $"basalt state sees the passive image\n{json}");
        // The install recorded what each slot holds: one image, the live system's, with its build date.
        var held = new[] { "active", "passive", "recovery" }
            .Select(slot => (Reference: slots[slot].GetProperty("imageReference").GetString(), Built: slots[slot].GetProperty("buildDate").GetString(), Digest: slots[slot].GetProperty("digest").ToString()))
            .Distinct()
            .ToList();
        Assert.True(held.Count == 1 && held[0].Reference == MediumImage && held[0].Digest == MediumDigest && !string.IsNullOrEmpty(held[0].Built), $"active, passive and recovery hold the image the medium names, by digest\n{json}");
        var install = root.GetProperty("history").EnumerateArray()
            .Where(r => r.GetProperty("operation").GetString() == "install")
            .ToList();
        var record = Assert.Single(install);
        Assert.Equal("succeeded", record.GetProperty("outcome").GetString());
        Assert.Contains("/dev/vda", record.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var mounted = root.GetProperty("partitions").EnumerateArray()
            .Where(p => p.GetProperty("mounted").GetBoolean())
            .Select(p => p.GetProperty("label").GetString())
            .ToList();
        Assert.True(new[] { "COS_STATE", "COS_OEM", "COS_PERSISTENT" }.All(mounted.Contains), $"basalt state lists the mounted partitions\n{json}");
    }

    /// <summary>
    /// The other two systems the install wrote, checked without booting them: passive.img is a clean COS_PASSIVE ext4
    /// and the recovery squashfs on COS_RECOVERY (beside its boot menu) both hold the very basalt and os-release the
    /// active system runs.
    /// </summary>
    private static async Task ExpectPassiveAndRecoveryUsableAsync(BootedDisk guest)
    {
        const string passive = "/run/initramfs/cos-state/cOS/passive.img";
        await guest.ExpectOutputAsync($"blkid -o value -s LABEL {passive}", "COS_PASSIVE", "passive.img is labelled COS_PASSIVE");
        await guest.CheckAsync($"e2fsck -fn {passive}", "passive.img is a clean ext4 filesystem");
        await guest.CheckAsync(
            $"(d=$(mktemp -d -p /run) && mount -o ro,loop {passive} $d || exit 1; cmp $d/usr/bin/basalt /usr/bin/basalt && cmp $d/usr/lib/os-release /usr/lib/os-release; r=$?; umount $d; rmdir $d; exit $r)",
            "passive.img holds the same system as the active one");
        await guest.CheckAsync(
            "(d=$(mktemp -d -p /run) && s=$(mktemp -d -p /run) && mount -o ro LABEL=COS_RECOVERY $d || exit 1; " +
            "grep -q recovery $d/grub2/grub.cfg && mount -o ro,loop $d/cOS/recovery.squashfs $s && cmp $s/usr/bin/basalt /usr/bin/basalt && cmp $s/usr/lib/os-release /usr/lib/os-release; " +
            "r=$?; umount $s; umount $d; rmdir $s $d; exit $r)",
            "COS_RECOVERY holds its boot menu and a recovery squashfs of the same system");
    }

    private static JsonDocument ParseJson(string text, string what)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"{what} did not print JSON ({e.Message}):\n{text}");
        }
    }

    /// <summary>Boot 1: the ISO as cdrom plus the blank disk; the unattended install ends with the VM powering itself off.</summary>
    private async Task InstallFromIsoAsync(string iso, string disk)
    {
        var spec = new VmSpec
        {
            CdromPath = iso,
            Drives = [new VmDrive(disk)],
            // The live system makes the images in RAM (a tmpfs): it needs room for two ext4 images of the tree.
            MemoryMiB = 6144,
            Cpus = 2,
            Network = false,
        };
        await using var vm = VirtualMachine.Start(spec, _temp.Combine("vm-live"), _os.Runner);
        try
        {
            using var cancellation = new CancellationTokenSource();
            var exit = vm.WaitForExitAsync(InstallTimeout, cancellation.Token);
            var failure = vm.WaitForAsync(new Regex(@"basalt: the boot cannot go on.*|Kernel panic.*|Failed to start basalt-auto-install.*|basalt-auto-install\.service: Main process exited, code=exited, status=[1-9].*"), InstallTimeout, 0, cancellation.Token);
            var first = await Task.WhenAny(exit, failure);
            await cancellation.CancelAsync();
            // A unit stopped by the power-off it asked for may be reported on the way down: only a failure before the install finished counts.
            if (first == failure && failure.IsCompletedSuccessfully && !vm.Console.Contains(AfterInstallMarker, StringComparison.Ordinal))
            {
                Assert.Fail($"the live install failed: '{failure.Result.Value.Trim()}'\n--- console tail ---\n{Tail(vm.Console)}");
            }

            // The failure watch also ends (without a match) when QEMU exits, and the first wait was cancelled above:
            // wait for the exit afresh, which returns at once when the machine is already off.
            await vm.WaitForExitAsync(InstallTimeout);

            Assert.True(vm.Console.Contains("root=live:CDLABEL=COS_LIVE", StringComparison.Ordinal),
                $"the ISO's GRUB booted its kernel in live mode (the kernel command line is on the console)\n--- console tail ---\n{Tail(vm.Console)}");
            Assert.True(vm.Console.Contains(AfterInstallMarker, StringComparison.Ordinal),
                $"the after-install stage of the live install ran (its marker is on the console)\n--- console tail ---\n{Tail(vm.Console)}");
            _output.WriteLine("live boot: the machine powered itself off after the install");
        }
        catch (VmTimeoutException timeout)
        {
            Assert.Fail($"the live install did not power the machine off within {InstallTimeout.TotalMinutes:0} min: {timeout.Message}\n--- console tail ---\n{Tail(vm.Console)}");
        }
    }

    private static string Tail(string console) => ConsoleText.Tail(console, 6000);
}
