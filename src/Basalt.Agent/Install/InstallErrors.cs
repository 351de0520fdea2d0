using Basalt.Disk;

namespace Basalt.Agent.Install;

/// <summary>The install target does not exist or is not a whole disk. Raised before anything is written.</summary>
public sealed class InstallDeviceNotFoundException : AgentException
{
    public InstallDeviceNotFoundException(string device, string reason)
        : base($"cannot install to '{device}': {reason}", "give a whole disk such as /dev/vda or /dev/sda (lsblk lists them), or install.device: auto")
    {
        Device = device;
    }

    public string Device { get; }
    public override string Kind => "install-device-not-found";
}

/// <summary><c>install.device: auto</c> found no disk to install to.</summary>
public sealed class NoInstallDeviceException : AgentException
{
    public NoInstallDeviceException(IEnumerable<string> skipped)
        : base($"install.device is 'auto' but no non-removable disk was found (looked at: {string.Join(", ", skipped.DefaultIfEmpty("nothing"))})",
               "attach a disk, or name one with --device / install.device")
    {
    }

    public override string Kind => "no-install-device";
}

/// <summary>The target holds mounted filesystems, e.g. the running system. Raised before anything is written.</summary>
public sealed class InstallDeviceInUseException : AgentException
{
    public InstallDeviceInUseException(string device, IReadOnlyList<string> mountPoints)
        : base($"'{device}' holds the running system or mounted filesystems ({string.Join(", ", mountPoints)}); installing would destroy them",
               "choose another disk, or pass --force (install.force: true) if you really mean to overwrite it")
    {
        Device = device;
        MountPoints = mountPoints;
    }

    public string Device { get; }
    public IReadOnlyList<string> MountPoints { get; }
    public override string Kind => "install-device-in-use";
}

/// <summary>The target is smaller than the disk the source and the partition settings need. Raised before anything is written.</summary>
public sealed class InstallDeviceTooSmallException : AgentException
{
    public InstallDeviceTooSmallException(string device, long deviceBytes, long requiredBytes, Exception? inner = null)
        : base($"'{device}' has {ByteSize.Format(deviceBytes)} but this install needs at least {ByteSize.Format(requiredBytes)} ({requiredBytes} bytes)",
               "use a larger disk, or lower install.partitions sizes", inner)
    {
        Device = device;
        DeviceBytes = deviceBytes;
        RequiredBytes = requiredBytes;
    }

    public string Device { get; }
    public long DeviceBytes { get; }
    public long RequiredBytes { get; }
    public override string Kind => "install-device-too-small";
}

/// <summary>The install section asks for something Basalt cannot do (a filesystem, no-format, encryption, an unknown source).</summary>
public sealed class UnsupportedInstallSettingException : AgentException
{
    public UnsupportedInstallSettingException(string setting, string reason, string hint)
        : base($"{setting}: {reason}", hint)
    {
        Setting = setting;
    }

    public string Setting { get; }
    public override string Kind => "unsupported-install-setting";
}

/// <summary>A lifecycle stage (before-install, after-reset…) had failing steps; the action stopped there.</summary>
public sealed class LifecycleStageFailedException : AgentException
{
    public LifecycleStageFailedException(string stage, IEnumerable<string> failures)
        : base($"the '{stage}' stage failed: {string.Join("; ", failures)}", $"fix the '{stage}' steps of the cloud-config (basalt run-stage {stage} --dry-run shows them)")
    {
        Stage = stage;
    }

    public string Stage { get; }
    public override string Kind => "lifecycle-stage-failed";
}
