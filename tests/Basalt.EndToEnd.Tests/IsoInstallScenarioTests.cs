using System.Text.RegularExpressions;
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
/// installed system in active mode with the cloud-config applied.
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
        foreach (var line in os.Log)
        {
            _output.WriteLine(line);
        }
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Live_iso_with_install_auto_installs_onto_a_blank_disk_and_powers_off_then_the_disk_boots_active_with_the_config()
    {
        var config = _temp.Combine("installer.yaml");
        await File.WriteAllTextAsync(config, InstallerConfig);
        var iso = _temp.Combine("basalt.iso");
        var built = await new IsoArtifactBuilder(_os.Runner).BuildAsync(new IsoArtifactOptions
        {
            RootDirectory = _os.RootDirectory,
            OutputPath = iso,
            CloudConfigPath = config,
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

    private static string Tail(string console, int length = 6000) => console.Length <= length ? console : console[^length..];
}
