using Basalt.Build.Vm;

namespace Basalt.Build.Tests.Vm;

public sealed class QemuCommandLineTests
{
    [Fact]
    public void A_uefi_disk_machine_gets_firmware_virtio_disk_serial_on_stdio_and_user_networking()
    {
        var spec = new VmSpec { Drives = [new VmDrive("/d/disk.raw")], PortForwards = [new PortForward(2222, 22)] };

        var arguments = string.Join(' ', QemuCommandLine.Build(spec, "/w/vars.fd", kvmUsable: false));

        Assert.Contains("-accel tcg", arguments);
        Assert.Contains("-serial stdio", arguments);
        Assert.Contains("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd", arguments);
        Assert.Contains("if=pflash,format=raw,file=/w/vars.fd", arguments);
        Assert.Contains("file=/d/disk.raw,format=raw,if=virtio", arguments);
        Assert.Contains("-netdev user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22", arguments);
        Assert.Contains("-device virtio-net-pci,netdev=n0,romfile= ", arguments + " ");
        Assert.DoesNotContain("-no-reboot", arguments);
    }

    [Theory]
    [InlineData(VmAccelerator.Auto, true, "kvm")]
    [InlineData(VmAccelerator.Auto, false, "tcg")]
    [InlineData(VmAccelerator.Tcg, true, "tcg")]
    [InlineData(VmAccelerator.Kvm, false, "kvm")]
    public void The_accelerator_follows_the_spec_and_what_the_host_offers(VmAccelerator accelerator, bool kvmUsable, string expected)
    {
        var arguments = QemuCommandLine.Build(new VmSpec { Accelerator = accelerator, Uefi = false }, null, kvmUsable);

        Assert.Equal(expected, arguments[arguments.ToList().IndexOf("-accel") + 1]);
    }

    [Fact]
    public void Direct_kernel_boot_and_cdrom_and_no_reboot_are_passed_through()
    {
        var spec = new VmSpec
        {
            Uefi = false,
            Network = false,
            CdromPath = "/a/live.iso",
            KernelPath = "/a/vmlinuz",
            InitrdPath = "/a/initrd",
            KernelCommandLine = "console=ttyS0 rd.live.image",
            ExitOnReboot = true,
        };

        var arguments = QemuCommandLine.Build(spec, null, kvmUsable: false);

        Assert.Equal("/a/vmlinuz", arguments[arguments.ToList().IndexOf("-kernel") + 1]);
        Assert.Equal("/a/initrd", arguments[arguments.ToList().IndexOf("-initrd") + 1]);
        Assert.Equal("console=ttyS0 rd.live.image", arguments[arguments.ToList().IndexOf("-append") + 1]);
        Assert.Contains("file=/a/live.iso,media=cdrom,readonly=on,if=none,id=cd0", arguments);
        Assert.Contains("-no-reboot", arguments);
        Assert.DoesNotContain("-netdev", arguments);
        Assert.DoesNotContain(arguments, a => a.Contains("pflash", StringComparison.Ordinal));
    }

    [Fact]
    public void A_uefi_machine_without_its_own_variables_file_is_refused()
    {
        Assert.Throws<ArgumentException>(() => QemuCommandLine.Build(new VmSpec(), null, kvmUsable: false));
    }
}
