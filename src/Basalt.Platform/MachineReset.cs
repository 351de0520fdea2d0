namespace Basalt.Platform;

/// <summary>
/// The hardest stop Linux offers short of pulling the plug: the magic SysRq <c>b</c> reboots at once, with no sync and
/// no unmount, so whatever sits in the page cache is lost as in a power cut. Used by fault injection only.
/// </summary>
public sealed class MachineReset
{
    /// <summary>How long to wait for the reset to take the machine down before calling it a failure.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    public MachineReset(string procRoot = "/proc")
    {
        ArgumentException.ThrowIfNullOrEmpty(procRoot);
        SysrqSwitch = Path.Combine(procRoot, "sys", "kernel", "sysrq");
        Trigger = Path.Combine(procRoot, "sysrq-trigger");
    }

    /// <summary><c>/proc/sys/kernel/sysrq</c>: "1" enables every SysRq function, whatever the distribution set.</summary>
    public string SysrqSwitch { get; }

    /// <summary><c>/proc/sysrq-trigger</c>: each byte written runs one SysRq function.</summary>
    public string Trigger { get; }

    /// <summary>
    /// Resets the machine now. Deliberately calls no sync. Returns only when the reset did not happen (on a real kernel it
    /// never returns), as a <see cref="HostCallException"/>.
    /// </summary>
    public void HardResetNow()
    {
        WriteControl(SysrqSwitch, "1");
        WriteControl(Trigger, "b");
        // The kernel acts on the write itself; a machine still running after the grace period did not reset.
        Thread.Sleep(Grace);
        throw new HostCallException("sysrq-trigger b", Trigger, Errno.EIO);
    }

    private static void WriteControl(string path, string value)
    {
        try
        {
            // No FileStream buffering tricks: /proc control files take one write(2) of the whole value.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(value));
        }
        catch (UnauthorizedAccessException)
        {
            throw new HostCallException("write", path, Errno.EACCES);
        }
        catch (FileNotFoundException)
        {
            throw new HostCallException("write", path, Errno.ENOENT);
        }
        catch (DirectoryNotFoundException)
        {
            throw new HostCallException("write", path, Errno.ENOENT);
        }
    }
}
