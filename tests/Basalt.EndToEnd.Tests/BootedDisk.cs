using System.Text.RegularExpressions;
using Basalt.Build.Vm;
using Basalt.Platform;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// One boot of a Basalt disk under QEMU (TCG, OVMF), logged in as root on the serial console. Every check names
/// what it proves and, when it fails, carries the command output and the tail of the console log.
/// Disposing kills the VM whatever happened.
/// </summary>
public sealed class BootedDisk : IAsyncDisposable
{
    /// <summary>Generous: CI boots two guests at once under TCG on 2 cores, and a contended boot can take several times a quiet one.</summary>
    public static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private VirtualMachine _vm;

    private BootedDisk(VirtualMachine vm)
    {
        _vm = vm;
    }

    public VirtualMachine Machine => _vm;

    /// <summary>
    /// Boots <paramref name="disk"/> and logs in; the console log lands in <paramref name="workDirectory"/>. With
    /// <paramref name="failFast"/> off, a failed boot (a kernel panic, the mounter giving up) is waited out: for
    /// scenarios where the machine is meant to fail and come back on its own. With <paramref name="network"/> the guest
    /// gets QEMU user networking (the host's 127.0.0.1:PORT is 10.0.2.2:PORT in the guest).
    /// </summary>
    public static async Task<BootedDisk> BootAsync(string disk, string workDirectory, IToolRunner runner, bool failFast = true, bool network = false)
    {
        var spec = new VmSpec
        {
            Drives = [new VmDrive(disk)],
            MemoryMiB = 2048,
            Cpus = 2,
            Network = network,
        };
        var vm = VirtualMachine.Start(spec, workDirectory, runner);
        var booted = new BootedDisk(vm);
        try
        {
            if (failFast)
            {
                await booted.LoginOrFailFastAsync(0);
            }
            else
            {
                await vm.LoginAsync("root", BasaltOsFixture.RootPassword, BootTimeout * 2, 0, CancellationToken.None);
            }
            return booted;
        }
        catch
        {
            await booted.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="command"/>; fails the test with <paramref name="proves"/> unless it exits 0.</summary>
    public async Task<string> CheckAsync(string command, string proves)
    {
        var result = await _vm.RunAsync(command, CommandTimeout);
        Assert.True(result.ExitCode == 0, Failure(proves, command, result));
        return result.Output.Trim();
    }

    /// <summary>Runs <paramref name="command"/> and fails the test unless its output contains <paramref name="expected"/>.</summary>
    public async Task ExpectOutputAsync(string command, string expected, string proves)
    {
        var result = await _vm.RunAsync(command, CommandTimeout);
        Assert.True(result.ExitCode == 0 && result.Output.Contains(expected, StringComparison.Ordinal), Failure($"{proves} (expected '{expected}')", command, result));
    }

    /// <summary>Types <c>reboot</c> and logs in again after the next boot.</summary>
    public async Task RebootAsync()
    {
        var offset = _vm.ConsoleLength;
        await _vm.TypeAsync("reboot\n");
        await LoginOrFailFastAsync(offset);
    }

    /// <summary>
    /// Logs in after a boot that starts on the console after <paramref name="offset"/> (a reset the guest caused
    /// itself, for instance), failing fast as <see cref="RebootAsync"/> does.
    /// </summary>
    public Task LoginAfterRebootAsync(int offset) => LoginOrFailFastAsync(offset);

    /// <summary>
    /// Logs in, but stops at once when the boot visibly failed (the mounter gave up, the kernel panicked) instead of
    /// waiting out the boot timeout while the machine reboots in a loop.
    /// </summary>
    private async Task LoginOrFailFastAsync(int offset)
    {
        using var cancellation = new CancellationTokenSource();
        var login = _vm.LoginAsync("root", BasaltOsFixture.RootPassword, BootTimeout, offset, cancellation.Token);
        var failure = _vm.WaitForAsync(BootFailure(), BootTimeout, offset, cancellation.Token);
        var first = await Task.WhenAny(login, failure);
        await cancellation.CancelAsync();
        if (first == failure && failure.IsCompletedSuccessfully)
        {
            Assert.Fail($"the guest did not boot: '{failure.Result.Value.Trim()}'\n--- console tail ---\n{ConsoleTail()}");
        }

        if (first == failure)
        {
            // The failure watch timed out (or QEMU ended) first: that is the error to report, not the login's cancellation.
            await failure;
        }

        await login;
        try
        {
            await failure;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static Regex BootFailure() => new(@"basalt: the boot cannot go on.*|Kernel panic.*");

    /// <summary>Powers the guest off cleanly; pulls the plug when it does not stop in time.</summary>
    public async Task PowerOffAsync()
    {
        await _vm.TypeAsync("poweroff\n");
        try
        {
            await _vm.WaitForExitAsync(TimeSpan.FromMinutes(3));
        }
        catch (VmTimeoutException)
        {
            await _vm.PowerCutAsync();
        }
    }

    public string ConsoleTail(int length = 4000)
    {
        var console = _vm.Console;
        return console.Length <= length ? console : console[^length..];
    }

    public ValueTask DisposeAsync() => _vm.DisposeAsync();

    private string Failure(string proves, string command, GuestCommandResult result) =>
        $"{proves}: '{command}' exited {result.ExitCode}\n--- output ---\n{result.Output}\n--- console tail ---\n{ConsoleTail()}";
}
