using System.Text.RegularExpressions;
using Basalt.Build.Vm;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Vm;

public sealed class VirtualMachineResetTests : IDisposable
{
    private readonly TempDirectory _temp = new("vm-reset");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("Linux version 6.1\nreboot: Restarting system\n", true)]
    [InlineData("Linux version 6.1\n[  212.38] sysrq: Resetting\nBdsDxe: starting Boot0001\nWelcome to GRUB!\n", true)]
    [InlineData("Kernel panic - not syncing\nRebooting in 5 seconds..\n", true)]
    [InlineData("reboot: Restarting system\nBdsDxe: starting\n[    0.000000] Linux version 6.1.0\nvm login:", false)]
    [InlineData("Linux version 6.1\nvm login: root\n# basalt upgrade\n", false)]
    [InlineData("Linux version 6.1\nreboot: Power down\n", false)]
    public void A_reset_is_pending_until_the_next_kernel_starts(string console, bool pending) =>
        Assert.Equal(pending, VirtualMachine.HasPendingReset(console));

    [Fact]
    public async Task A_guest_silent_after_its_reset_is_power_cycled_and_its_console_goes_on()
    {
        // QEMU's stand-in: the first run boots, resets and hangs silently as TCG sometimes does; the next boots to a prompt.
        var (qemu, disk) = await StandInAsync("""
            #!/bin/sh
            d=$(dirname "$0")
            n=$(cat "$d/runs" 2>/dev/null || echo 0)
            n=$((n + 1))
            echo "$n" > "$d/runs"
            if [ "$n" = 1 ]; then
              printf 'Linux version 6.1 (first boot)\nreboot: Restarting system\nWelcome to GRUB!\n'
            else
              printf 'Linux version 6.1 (boot %s)\nvm login: ' "$n"
            fi
            exec sleep 120
            """);
        var spec = new VmSpec { Drives = [new VmDrive(disk)], Uefi = false, Network = false, ResetStallTimeout = TimeSpan.FromSeconds(1) };

        await using var vm = VirtualMachine.Start(spec, _temp.Combine("vm"), new StandInRunner(new ToolRunner(), QemuCommandLine.Binary, qemu));
        var match = await vm.WaitForAsync(new Regex(@"Linux version 6\.1 \(boot (\d+)\)"), TimeSpan.FromSeconds(60));

        Assert.Equal("2", match.Groups[1].Value);
        Assert.Equal(1, vm.PowerCycles);
        Assert.False(vm.HasExited);
        Assert.Contains("power-cycling QEMU", vm.Console, StringComparison.Ordinal);
        Assert.Contains("Welcome to GRUB!", vm.Console, StringComparison.Ordinal);
        await vm.WaitForAsync(new Regex("login:"), TimeSpan.FromSeconds(30));
        Assert.Contains("power-cycling QEMU", await File.ReadAllTextAsync(Path.Combine(_temp.Combine("vm"), "console.log")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_guest_that_boots_after_its_reset_is_left_alone()
    {
        var (qemu, disk) = await StandInAsync("#!/bin/sh\nd=$(dirname \"$0\")\necho x >> \"$d/runs\"\nprintf 'reboot: Restarting system\\nLinux version 6.1\\nvm login: '\nexec sleep 120\n");
        var spec = new VmSpec { Drives = [new VmDrive(disk)], Uefi = false, Network = false, ResetStallTimeout = TimeSpan.FromMilliseconds(400) };

        await using (var vm = VirtualMachine.Start(spec, _temp.Combine("vm"), new StandInRunner(new ToolRunner(), QemuCommandLine.Binary, qemu)))
        {
            await vm.WaitForAsync(new Regex("login:"), TimeSpan.FromSeconds(30));
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(0, vm.PowerCycles);
        }

        Assert.Single(await File.ReadAllLinesAsync(Path.Combine(Path.GetDirectoryName(qemu)!, "runs")));
    }

    /// <summary>QEMU's stand-in (<paramref name="script"/>, which counts its runs in <c>runs</c> beside it) and a disk for it to be given.</summary>
    private async Task<(string Qemu, string Disk)> StandInAsync(string script)
    {
        var bin = _temp.Combine("bin");
        Directory.CreateDirectory(bin);
        var qemu = Path.Combine(bin, QemuCommandLine.Binary);
        await File.WriteAllTextAsync(qemu, script.Replace("\r", string.Empty, StringComparison.Ordinal));
        File.SetUnixFileMode(qemu, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var disk = _temp.Combine("disk.raw");
        await File.WriteAllTextAsync(disk, "disk");
        return (qemu, disk);
    }
}
