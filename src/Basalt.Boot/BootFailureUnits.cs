namespace Basalt.Boot;

/// <summary>
/// systemd drop-ins an image carries so a boot that lands in emergency or rescue mode reboots instead
/// of waiting for a keyboard: the GRUB menu's fallback and boot counting can then act. (Kernel panics
/// reboot through <c>panic=5</c>, PID 1 crashes through <c>systemd.crash_reboot=1</c>, the Basalt
/// mounter reboots on its own failures.) <c>basalt init</c> writes these files into the image.
/// </summary>
public static class BootFailureUnits
{
    public const string RebootCommand =
        "ExecStart=-/bin/sh -c 'echo \"basalt: the system reached %N; rebooting in 10 seconds\" >/dev/console; sleep 10; exec systemctl --force reboot'";

    /// <summary>Image path → file content.</summary>
    public static IReadOnlyDictionary<string, string> Files { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["/etc/systemd/system/emergency.service.d/basalt-reboot.conf"] = DropIn,
        ["/etc/systemd/system/rescue.service.d/basalt-reboot.conf"] = DropIn,
    };

    private static string DropIn =>
        "# Basalt: never wait at an emergency shell on an unattended node; reboot so GRUB can fall back.\n" +
        "[Service]\n" +
        "ExecStart=\n" +
        RebootCommand + "\n";
}
