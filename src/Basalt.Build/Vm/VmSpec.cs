namespace Basalt.Build.Vm;

/// <summary>A disk attached to a VM.</summary>
public sealed record VmDrive(string Path, string Format = "raw", bool ReadOnly = false);

/// <summary>Forward host 127.0.0.1:HostPort to the guest's GuestPort (user networking).</summary>
public sealed record PortForward(int HostPort, int GuestPort);

public enum VmAccelerator
{
    /// <summary>KVM when /dev/kvm exists and works, else TCG.</summary>
    Auto,
    Tcg,
    Kvm,
}

/// <summary>Everything needed to start one QEMU x86_64 machine, as data.</summary>
public sealed record VmSpec
{
    public IReadOnlyList<VmDrive> Drives { get; init; } = [];
    public string? CdromPath { get; init; }
    /// <summary>Direct kernel boot (netboot-like); needs <see cref="InitrdPath"/> too.</summary>
    public string? KernelPath { get; init; }
    public string? InitrdPath { get; init; }
    public string? KernelCommandLine { get; init; }
    public int MemoryMiB { get; init; } = 2048;
    public int Cpus { get; init; } = 2;
    public bool Uefi { get; init; } = true;
    public string OvmfCodePath { get; init; } = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    public string OvmfVarsTemplatePath { get; init; } = "/usr/share/OVMF/OVMF_VARS_4M.fd";
    public bool Network { get; init; } = true;
    public IReadOnlyList<PortForward> PortForwards { get; init; } = [];
    public VmAccelerator Accelerator { get; init; } = VmAccelerator.Tcg;
    /// <summary>When true, a guest reboot ends QEMU instead of restarting the guest.</summary>
    public bool ExitOnReboot { get; init; }

    /// <summary>
    /// How long the console may stay silent after the guest resets itself, before its kernel starts, until QEMU is
    /// power-cycled (<see cref="VirtualMachine"/>); null: never.
    /// </summary>
    public TimeSpan? ResetStallTimeout { get; init; } = TimeSpan.FromMinutes(3);
}
