namespace Basalt.Build.Vm;

/// <summary>Turns a <see cref="VmSpec"/> into QEMU arguments. The serial console is stdio.</summary>
public static class QemuCommandLine
{
    public const string Binary = "qemu-system-x86_64";

    /// <summary>The host as the guest sees it on QEMU user networking: the host's 127.0.0.1:PORT is this address's PORT.</summary>
    public const string HostFromGuest = "10.0.2.2";

    public static IReadOnlyList<string> Build(VmSpec spec, string? ovmfVarsPath, bool kvmUsable)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var useKvm = spec.Accelerator switch
        {
            VmAccelerator.Kvm => true,
            VmAccelerator.Auto => kvmUsable,
            _ => false,
        };
        var arguments = new List<string>
        {
            "-accel", useKvm ? "kvm" : "tcg",
            "-machine", "q35",
            "-m", spec.MemoryMiB.ToString(),
            "-smp", spec.Cpus.ToString(),
            "-display", "none",
            "-monitor", "none",
            "-serial", "stdio",
            "-no-user-config",
            "-nodefaults",
            "-device", "virtio-rng-pci",
        };
        if (useKvm)
        {
            arguments.AddRange(["-cpu", "host"]);
        }

        if (spec.Uefi)
        {
            if (ovmfVarsPath is null)
            {
                throw new ArgumentException("a UEFI machine needs its own copy of the OVMF variables", nameof(ovmfVarsPath));
            }

            arguments.AddRange(["-drive", $"if=pflash,format=raw,readonly=on,file={spec.OvmfCodePath}"]);
            arguments.AddRange(["-drive", $"if=pflash,format=raw,file={ovmfVarsPath}"]);
        }

        for (var index = 0; index < spec.Drives.Count; index++)
        {
            var drive = spec.Drives[index];
            var options = $"file={drive.Path},format={drive.Format},if=virtio,cache=writeback,discard=unmap";
            if (drive.ReadOnly)
            {
                options += ",readonly=on";
            }

            arguments.AddRange(["-drive", options]);
        }

        if (spec.CdromPath is not null)
        {
            arguments.AddRange(["-drive", $"file={spec.CdromPath},media=cdrom,readonly=on,if=none,id=cd0"]);
            arguments.AddRange(["-device", "ide-cd,drive=cd0,bootindex=0"]);
        }

        if (spec.KernelPath is not null)
        {
            arguments.AddRange(["-kernel", spec.KernelPath]);
            if (spec.InitrdPath is not null)
            {
                arguments.AddRange(["-initrd", spec.InitrdPath]);
            }

            if (spec.KernelCommandLine is not null)
            {
                arguments.AddRange(["-append", spec.KernelCommandLine]);
            }
        }

        if (spec.Network)
        {
            var netdev = "user,id=n0";
            foreach (var forward in spec.PortForwards)
            {
                netdev += $",hostfwd=tcp:127.0.0.1:{forward.HostPort}-:{forward.GuestPort}";
            }

            // No option ROM: nothing here boots from the network through the firmware (netboot uses -kernel). The NIC's
            // iPXE ROM is the only firmware code a networked guest adds, and only networked guests were seen to hang
            // silently in the firmware after a warm reset.
            arguments.AddRange(["-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,romfile="]);
        }

        if (spec.ExitOnReboot)
        {
            arguments.Add("-no-reboot");
        }

        return arguments;
    }
}
