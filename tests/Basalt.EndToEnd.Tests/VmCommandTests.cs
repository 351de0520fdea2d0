using System.Text.RegularExpressions;
using Basalt.Build.Vm;
using Basalt.Platform;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// The published <c>basalt vm</c> on a copy of the fixture's raw disk, in one boot: the serial console reaches the
/// command's stdout (the login prompt) and takes its stdin (a root login), the <c>--cloud-config</c> given to the
/// command is applied by the node (its hostname), the guest's power-off ends the command with status 0 and its work
/// directory gone, and the disk file itself is never written (the VM ran on an overlay).
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class VmCommandTests : IDisposable
{
    private const string Hostname = "basalt-vm-e2e";
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(25);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(2);

    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-vm-command");

    public VmCommandTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        Requires.Tool("qemu-img", "qemu-utils");
        Requires.Tool("qemu-io", "qemu-utils");
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Basalt_vm_boots_a_raw_disk_to_its_login_prompt_on_the_terminal_and_leaves_the_disk_untouched()
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var before = new FileInfo(disk);
        var (length, written) = (before.Length, before.LastWriteTimeUtc);
        var config = _temp.Combine("vm.yaml");
        await File.WriteAllTextAsync(config, $"#cloud-config\nhostname: {Hostname}\n");
        var work = _temp.Combine("vm-work");

        var invocation = new ToolInvocation(_os.BasaltBinary, ["vm", disk, "--accel", "tcg", "--memory", "2048", "--cpus", "2", "--cloud-config", config, "--work-dir", work]);
        var basalt = BackgroundProcess.Start(invocation, _os.Runner, _temp.Combine("console.log"));
        try
        {
            await WaitAsync(basalt, @"login:", BootTimeout, 0, "the login prompt reaches basalt vm's stdout");
            // Kernel messages often share the prompt's line: ask for fresh prompts until one stands alone.
            for (var attempt = 1; ; attempt++)
            {
                var offset = basalt.OutputLength;
                await basalt.SendAsync("\n");
                try
                {
                    await WaitAsync(basalt, @"login:\s*$", TimeSpan.FromSeconds(20), offset, "a fresh login prompt");
                    break;
                }
                catch (Xunit.Sdk.XunitException) when (attempt < 8)
                {
                }
            }

            var mark = basalt.OutputLength;
            await basalt.SendAsync("root\n");
            await WaitAsync(basalt, @"Password:\s*$", StepTimeout, mark, "typing on basalt vm's stdin reaches the guest's getty");
            mark = basalt.OutputLength;
            await basalt.SendAsync(BasaltOsFixture.RootPassword + "\n");
            await WaitAsync(basalt, @"[#$]\s*$", StepTimeout, mark, "root logs in on the serial console");
            mark = basalt.OutputLength;
            await basalt.SendAsync("echo \"host-\"$(hostname); ls /oem\n");
            // Not anchored at the line start: bash puts terminal control sequences (bracketed paste off) before the output.
            await WaitAsync(basalt, "host-" + Hostname + @"\s*$", StepTimeout, mark, "the --cloud-config given to basalt vm is applied (hostname)");
            await WaitAsync(basalt, Regex.Escape(VmLaunchOptions.CloudConfigName), StepTimeout, mark, $"it lies on COS_OEM as {VmLaunchOptions.CloudConfigName}");

            await basalt.SendAsync("systemctl poweroff\n");
            var exit = await basalt.WaitForExitAsync(TimeSpan.FromMinutes(5));
            Assert.True(exit == 0, $"basalt vm exits 0 when the guest powers off, got {exit}\n{Tail(basalt.Output)}");
            Assert.False(Directory.Exists(work), "basalt vm removes its work directory (overlay, firmware variables)");
        }
        finally
        {
            // Whatever happened: basalt, QEMU under it, and any QEMU that outlived it.
            await basalt.DisposeAsync();
            KillQemuUsing(work);
            _output.WriteLine(Tail(basalt.Output));
        }

        var after = new FileInfo(disk);
        Assert.Equal(length, after.Length);
        Assert.Equal(written, after.LastWriteTimeUtc);
        Assert.Empty(QemuProcessesUsing(work));
    }

    private static async Task WaitAsync(BackgroundProcess process, string pattern, TimeSpan timeout, int offset, string proves)
    {
        var regex = new Regex(pattern);
        try
        {
            await process.WaitForLineAsync(regex.IsMatch, timeout, offset);
        }
        catch (TimeoutException exception)
        {
            Assert.Fail($"{proves}: waited for /{pattern}/ in vain ({exception.Message})\n--- last output ---\n{Tail(process.Output)}");
        }
    }

    private static List<int> QemuProcessesUsing(string work)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(QemuCommandLine.Binary, StringComparison.Ordinal) && commandLine.Contains(work, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    private static void KillQemuUsing(string work)
    {
        foreach (var pid in QemuProcessesUsing(work))
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
                process.WaitForExit(TimeSpan.FromSeconds(30));
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private static string Tail(string text) => ConsoleText.Tail(text, 4000);
}
