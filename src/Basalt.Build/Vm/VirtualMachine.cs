using System.Text.RegularExpressions;
using Basalt.Platform;
using Microsoft.Extensions.Logging;

namespace Basalt.Build.Vm;

/// <summary>
/// One running QEMU machine whose serial console is this process's to read and type on.
/// Disposing always stops it. Killing it is a power cut: the disks keep what reached them.
/// A guest that resets itself and then stays silent before its kernel starts (QEMU under TCG now and then hangs after
/// a warm reset, before the firmware prints anything) is power-cycled: QEMU starts again on the same disks, as a cold
/// boot. A stall that comes back after cold boots is the guest's own, and is left to whoever waits on the console.
/// </summary>
public sealed partial class VirtualMachine : IAsyncDisposable
{
    private static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(300);

    private readonly BackgroundProcess _process;
    private readonly string _workDirectory;
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly Task _watching;
    private int _commandCounter;

    private VirtualMachine(BackgroundProcess process, string workDirectory, VmSpec spec)
    {
        _process = process;
        _workDirectory = workDirectory;
        Spec = spec;
        _watching = spec.ResetStallTimeout is { } stall && !spec.ExitOnReboot
            ? WatchResetsAsync(stall, _stopWatching.Token)
            : Task.CompletedTask;
    }

    /// <summary>How many times the machine was power-cycled after a reset that stalled.</summary>
    public int PowerCycles { get; private set; }

    public VmSpec Spec { get; }

    /// <summary>Everything the console printed so far.</summary>
    public string Console => _process.Output;

    public int ConsoleLength => _process.OutputLength;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the machine. <paramref name="workDirectory"/> receives the OVMF variables and the console log.</summary>
    public static VirtualMachine Start(VmSpec spec, string workDirectory, IToolRunner tools, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(tools);
        foreach (var drive in spec.Drives)
        {
            if (!File.Exists(drive.Path))
            {
                throw new VmArtifactMissingException(drive.Path);
            }
        }

        if (spec.CdromPath is { } cdrom && !File.Exists(cdrom))
        {
            throw new VmArtifactMissingException(cdrom);
        }

        Directory.CreateDirectory(workDirectory);
        string? vars = null;
        if (spec.Uefi)
        {
            if (!File.Exists(spec.OvmfCodePath) || !File.Exists(spec.OvmfVarsTemplatePath))
            {
                throw new FirmwareMissingException(spec.OvmfCodePath);
            }

            vars = Path.Combine(workDirectory, "OVMF_VARS.fd");
            if (!File.Exists(vars))
            {
                File.Copy(spec.OvmfVarsTemplatePath, vars);
            }
        }

        var kvmUsable = spec.Accelerator == VmAccelerator.Auto && KvmProbe.Problem(tools) is null;
        var invocation = new ToolInvocation(QemuCommandLine.Binary, QemuCommandLine.Build(spec, vars, kvmUsable)) { Package = "qemu-system-x86" };
        var process = BackgroundProcess.Start(invocation, tools, Path.Combine(workDirectory, "console.log"), logger);
        return new VirtualMachine(process, workDirectory, spec);
    }

    /// <summary>Waits for console output matching <paramref name="pattern"/> printed after <paramref name="fromOffset"/>.</summary>
    public async Task<Match> WaitForAsync(Regex pattern, TimeSpan timeout, int fromOffset = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        try
        {
            var line = await _process.WaitForLineAsync(pattern.IsMatch, timeout, fromOffset, cancellationToken).ConfigureAwait(false);
            return pattern.Match(line);
        }
        catch (TimeoutException exception)
        {
            throw new VmTimeoutException(pattern.ToString(), exception.Message, Tail(Console, 3000));
        }
    }

    /// <summary>Logs in on the serial console and waits for a shell prompt.</summary>
    public async Task LoginAsync(string user, string password, TimeSpan timeout, int fromOffset = 0, CancellationToken cancellationToken = default)
    {
        await WaitForAsync(AnyLoginPrompt(), timeout, fromOffset, cancellationToken).ConfigureAwait(false);
        // Kernel messages often land on the prompt's line; ask for a fresh prompt until one stands alone.
        var offset = ConsoleLength;
        for (var attempt = 1; ; attempt++)
        {
            offset = ConsoleLength;
            await _process.SendAsync("\n", cancellationToken).ConfigureAwait(false);
            try
            {
                await WaitForAsync(LoginPrompt(), TimeSpan.FromSeconds(15), offset, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (VmTimeoutException) when (attempt < 8)
            {
            }
        }

        offset = ConsoleLength;
        await _process.SendAsync(user + "\n", cancellationToken).ConfigureAwait(false);
        await WaitForAsync(PasswordPrompt(), TimeSpan.FromSeconds(60), offset, cancellationToken).ConfigureAwait(false);
        offset = ConsoleLength;
        await _process.SendAsync(password + "\n", cancellationToken).ConfigureAwait(false);
        await WaitForAsync(ShellPrompt(), TimeSpan.FromSeconds(120), offset, cancellationToken).ConfigureAwait(false);
        // The shell shares the serial console with the kernel, with systemd's status lines and with units that log to
        // the console (journal+console), whose lines would land inside a command's output. So first the boot's running
        // jobs finish (not the wait for a network a guest without one never gets: that one only times out), then the
        // kernel's messages below emergencies and systemd's status lines (SIGRTMIN+21) are kept off the console.
        await RunAsync(
            $"for _ in $(seq {SettleTimeout.TotalSeconds:0}); do systemctl list-jobs --no-legend 2>/dev/null | grep -v wait-online | grep -qw running || break; sleep 1; done; " +
            "dmesg -n 1 2>/dev/null; kill -s RTMIN+21 1 2>/dev/null; " +
            "stty -echo; export PAGER=cat SYSTEMD_PAGER=cat TERM=dumb",
            SettleTimeout + TimeSpan.FromSeconds(60),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a shell command on the logged-in console; returns its exit status and output.</summary>
    public async Task<GuestCommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        var id = Interlocked.Increment(ref _commandCounter);
        var begin = $"__BASALT_BEGIN_{id}__";
        var end = $"__BASALT_END_{id}__";
        var offset = ConsoleLength;
        // The markers are split in the typed text so the console's echo of the command never matches them.
        var line = $"echo '{begin[..4]}''{begin[4..]}'; {command}; echo \"{end[..4]}\"\"{end[4..]} $?\"\n";
        await _process.SendAsync(line, cancellationToken).ConfigureAwait(false);
        var endPattern = new Regex(Regex.Escape(end) + @" (\d+)");
        var match = await WaitForAsync(endPattern, timeout, offset, cancellationToken).ConfigureAwait(false);
        // The console speaks CRLF; the output is what lies between the begin marker's line and the end marker.
        var text = Console[offset..].Replace("\r", string.Empty);
        var start = text.IndexOf(begin + "\n", StringComparison.Ordinal);
        var stop = text.IndexOf(end, StringComparison.Ordinal);
        var output = start >= 0 && stop > start ? text[(start + begin.Length + 1)..stop] : string.Empty;
        return new GuestCommandResult(int.Parse(match.Groups[1].Value), output.TrimEnd('\n'));
    }

    /// <summary>Types text on the console without waiting for anything.</summary>
    public Task TypeAsync(string text, CancellationToken cancellationToken = default) => _process.SendAsync(text, cancellationToken);

    /// <summary>Pulls the power cord: QEMU is killed at once, the guest gets no chance to flush.</summary>
    public Task PowerCutAsync() => _process.KillAsync();

    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _process.WaitForExitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new VmTimeoutException("exit", $"the machine did not stop within {timeout.TotalSeconds:0} s", Tail(Console, 3000));
        }
    }

    public string WorkDirectory => _workDirectory;

    public async ValueTask DisposeAsync()
    {
        await _stopWatching.CancelAsync().ConfigureAwait(false);
        await _watching.ConfigureAwait(false);
        _stopWatching.Dispose();
        await _process.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Whether the console's last reset of the guest has not yet been followed by its kernel's start.</summary>
    public static bool HasPendingReset(string console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var reset = ResetMarker().Matches(console).LastOrDefault();
        return reset is not null && !KernelBanner().IsMatch(console, reset.Index + reset.Length);
    }

    private async Task WatchResetsAsync(TimeSpan stall, CancellationToken cancellationToken)
    {
        try
        {
            var length = -1;
            var silentSince = DateTimeOffset.UtcNow;
            var interval = stall < WatchInterval * 4 ? stall / 4 : WatchInterval;
            while (!_process.HasExited)
            {
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
                var now = ConsoleLength;
                if (now != length)
                {
                    length = now;
                    silentSince = DateTimeOffset.UtcNow;
                    continue;
                }

                if (DateTimeOffset.UtcNow - silentSince < stall || !HasPendingReset(Console))
                {
                    continue;
                }

                PowerCycles++;
                await _process.RestartAsync(
                    $"basalt: no console output for {stall.TotalSeconds:0} s after the guest's reset and before its kernel started: power-cycling QEMU (cold boot {PowerCycles})",
                    cancellationToken).ConfigureAwait(false);
                silentSince = DateTimeOffset.UtcNow;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (InvalidOperationException)
        {
            // QEMU stopped on its own while the restart began: nothing is left to watch.
        }
    }

    private static string Tail(string text, int length) => text.Length <= length ? text : text[^length..];

    /// <summary>What Linux prints as it resets the machine: reboot(2), SysRq 'b', or a panic's countdown.</summary>
    [GeneratedRegex(@"reboot: Restarting system|sysrq: Resetting|Rebooting in \d+ seconds")]
    private static partial Regex ResetMarker();

    [GeneratedRegex(@"Linux version \d")]
    private static partial Regex KernelBanner();

    [GeneratedRegex(@"login:\s*$")]
    private static partial Regex LoginPrompt();

    [GeneratedRegex(@"login:")]
    private static partial Regex AnyLoginPrompt();

    [GeneratedRegex(@"Password:\s*$")]
    private static partial Regex PasswordPrompt();

    [GeneratedRegex(@"[#$]\s*$")]
    private static partial Regex ShellPrompt();
}

public sealed record GuestCommandResult(int ExitCode, string Output);

public sealed class VmArtifactMissingException : BuildException
{
    public VmArtifactMissingException(string path)
        : base($"'{path}' does not exist", "build the artifact first (basalt build disk|iso|netboot) or check the path")
    {
    }

    public override string Kind => "artifact-missing";
}

public sealed class FirmwareMissingException : BuildException
{
    public FirmwareMissingException(string path)
        : base($"UEFI firmware '{path}' was not found", "install it with: apt-get install ovmf")
    {
    }

    public override string Kind => "firmware-missing";
}

public sealed class VmTimeoutException : BuildException
{
    public VmTimeoutException(string awaited, string reason, string consoleTail)
        : base($"waiting for '{awaited}' on the VM console: {reason}\n--- last console output ---\n{consoleTail}")
    {
        ConsoleTail = consoleTail;
    }

    public string ConsoleTail { get; }
    public override string Kind => "vm-timeout";
}
