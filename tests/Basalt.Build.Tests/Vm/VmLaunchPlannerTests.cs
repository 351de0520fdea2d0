using System.Net;
using System.Net.Sockets;
using Basalt.Build.Artifacts;
using Basalt.Build.Vm;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Vm;

public sealed class VmLaunchPlannerTests : IDisposable
{
    private static readonly Func<string?> KvmUsable = () => null;
    private static readonly Func<string?> NoKvm = () => "/dev/kvm does not exist";

    private readonly TempDirectory _temp = new("vm-plan");

    public void Dispose() => _temp.Dispose();

    private string RawDisk(string name = "disk.raw")
    {
        var path = _temp.Combine(name);
        var bytes = new byte[64 * 1024];
        "EFI PART"u8.CopyTo(bytes.AsSpan(512));
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Qcow2Disk()
    {
        var path = _temp.Combine("disk.qcow2");
        File.WriteAllBytes(path, [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3]);
        return path;
    }

    private string Iso()
    {
        // A hybrid ISO: a GPT for USB sticks and the ISO 9660 volume descriptor at sector 16.
        var path = _temp.Combine("basalt.iso");
        var bytes = new byte[40 * 1024];
        "EFI PART"u8.CopyTo(bytes.AsSpan(512));
        bytes[32768] = 1;
        "CD001"u8.CopyTo(bytes.AsSpan(32769));
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Netboot(string? commandLine = null, bool initrd = true)
    {
        var directory = _temp.Combine($"netboot-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, NetbootDirectory.KernelName), "kernel");
        if (initrd)
        {
            File.WriteAllText(Path.Combine(directory, NetbootDirectory.InitrdName), "initrd");
        }

        if (commandLine is not null)
        {
            File.WriteAllText(Path.Combine(directory, NetbootDirectory.CommandLineName), commandLine);
        }

        return directory;
    }

    private VmLaunchOptions Options(string artifact) => new() { ArtifactPath = artifact, WorkDirectory = _temp.Combine("work") };

    [Fact]
    public void Artifacts_are_told_apart_by_content_not_by_name()
    {
        var rawNamedIso = _temp.Combine("looks.iso");
        File.Copy(RawDisk(), rawNamedIso);

        Assert.Equal(VmArtifactKind.RawDisk, VmArtifactDetector.Detect(RawDisk()).Kind);
        Assert.Equal(VmArtifactKind.RawDisk, VmArtifactDetector.Detect(rawNamedIso).Kind);
        Assert.Equal(VmArtifactKind.Qcow2Disk, VmArtifactDetector.Detect(Qcow2Disk()).Kind);
        Assert.Equal(VmArtifactKind.Iso, VmArtifactDetector.Detect(Iso()).Kind);
        Assert.Equal(VmArtifactKind.Netboot, VmArtifactDetector.Detect(Netboot()).Kind);
    }

    [Fact]
    public void A_missing_artifact_an_unknown_file_and_an_incomplete_netboot_directory_are_typed_errors()
    {
        var unknown = _temp.Combine("notes.txt");
        File.WriteAllText(unknown, "hello");
        var empty = _temp.Combine("empty");
        File.WriteAllBytes(empty, []);

        Assert.Throws<VmArtifactMissingException>(() => VmArtifactDetector.Detect(_temp.Combine("missing.raw")));
        Assert.Contains("68656c6c6f", Assert.Throws<UnknownArtifactKindException>(() => VmArtifactDetector.Detect(unknown)).Message);
        Assert.Contains("empty", Assert.Throws<UnknownArtifactKindException>(() => VmArtifactDetector.Detect(empty)).Message);
        var incomplete = Assert.Throws<NetbootDirectoryIncompleteException>(() => VmArtifactDetector.Detect(Netboot(initrd: false)));
        Assert.Equal([NetbootDirectory.InitrdName], incomplete.Missing);
    }

    [Fact]
    public void A_raw_disk_boots_on_a_qcow2_overlay_backed_by_it_never_on_the_artifact()
    {
        var disk = RawDisk();
        var plan = VmLaunchPlanner.Plan(Options(disk) with { PortForwards = [new PortForward(2222, 22)], MemoryMiB = 1024, Cpus = 1, Accelerator = VmAccelerator.Tcg }, KvmUsable);

        var overlay = Assert.Single(plan.PreparedDisks);
        Assert.Equal(["create", "-q", "-f", "qcow2", "-b", disk, "-F", "raw", _temp.Combine("work", VmLaunchPlanner.OverlayName)], overlay.QemuImgArguments);
        var arguments = string.Join(' ', plan.QemuArguments);
        Assert.Contains($"file={overlay.Path},format=qcow2,if=virtio", arguments);
        Assert.DoesNotContain($"file={disk},", arguments);
        Assert.Contains("-accel tcg", arguments);
        Assert.Contains("-m 1024", arguments);
        Assert.Contains("-smp 1", arguments);
        Assert.Contains("-serial stdio", arguments);
        Assert.Contains($"if=pflash,format=raw,file={_temp.Combine("work", VmLaunchPlan.VarsFileName)}", arguments);
        Assert.Contains("hostfwd=tcp:127.0.0.1:2222-:22", arguments);
        Assert.Contains("never written", plan.ToString());
    }

    [Fact]
    public void A_qcow2_disk_is_the_overlay_backing_file_in_its_own_format()
    {
        var plan = VmLaunchPlanner.Plan(Options(Qcow2Disk()), KvmUsable);

        Assert.Contains("-F qcow2", string.Join(' ', Assert.Single(plan.PreparedDisks).QemuImgArguments));
    }

    [Fact]
    public void An_iso_boots_as_a_cdrom_beside_a_blank_target_disk_of_the_requested_size()
    {
        var iso = Iso();
        var plan = VmLaunchPlanner.Plan(Options(iso) with { TargetDiskBytes = 8L * 1024 * 1024 * 1024 }, KvmUsable);

        var target = Assert.Single(plan.PreparedDisks);
        Assert.Null(target.BackingPath);
        Assert.Equal("8589934592", target.QemuImgArguments[^1]);
        var arguments = string.Join(' ', plan.QemuArguments);
        Assert.Contains($"file={iso},media=cdrom,readonly=on", arguments);
        Assert.Contains($"file={target.Path},format=qcow2,if=virtio", arguments);
        Assert.Equal(VmLaunchOptions.DefaultTargetDiskBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), VmLaunchPlanner.Plan(Options(iso), KvmUsable).PreparedDisks[0].QemuImgArguments[^1]);
    }

    [Fact]
    public void A_netboot_directory_boots_its_kernel_and_initrd_with_its_cmdline_and_the_serial_console()
    {
        var directory = Netboot("root=live:http://10.0.2.2:8080/rootfs.squashfs\nrd.neednet=1\n");

        var plan = VmLaunchPlanner.Plan(Options(directory), KvmUsable);

        Assert.Equal(Path.Combine(directory, NetbootDirectory.KernelName), plan.Spec.KernelPath);
        Assert.Equal(Path.Combine(directory, NetbootDirectory.InitrdName), plan.Spec.InitrdPath);
        Assert.Equal("root=live:http://10.0.2.2:8080/rootfs.squashfs rd.neednet=1 console=ttyS0,115200", plan.Spec.KernelCommandLine);
        Assert.Null(Assert.Single(plan.PreparedDisks).BackingPath);
        Assert.Equal("console=tty0", VmLaunchPlanner.NetbootCommandLine("console=tty0"));
        Assert.Equal("console=ttyS0,115200", VmLaunchPlanner.NetbootCommandLine(string.Empty));
    }

    [Fact]
    public void A_directory_from_basalt_build_netboot_is_served_to_the_vm_which_gets_the_squashfs_and_config_urls()
    {
        var directory = Netboot("console=tty0 console=ttyS0,115200 ip=dhcp\n");
        File.WriteAllText(Path.Combine(directory, NetbootArtifactPlan.SquashfsName), "squashfs");
        var config = _temp.Combine("node.yaml");
        File.WriteAllText(config, "#cloud-config\nhostname: netbooted\n");

        var plan = VmLaunchPlanner.Plan(Options(directory) with { CloudConfigPath = config }, KvmUsable);

        var serving = Assert.IsType<VmNetbootServing>(plan.NetbootServing);
        Assert.Equal(directory, serving.Directory);
        Assert.Equal(config, serving.CloudConfigPath);
        Assert.Equal(
            "console=tty0 console=ttyS0,115200 ip=dhcp basalt.live.url=http://10.0.2.2:8123/rootfs.squashfs config_url=http://10.0.2.2:8123/cloud-config.yaml",
            plan.SpecServedOn(8123).KernelCommandLine);
        Assert.Contains("basalt.live.url=http://10.0.2.2:0/rootfs.squashfs", plan.Spec.KernelCommandLine, StringComparison.Ordinal);
        Assert.Contains("on a free port of 127.0.0.1", plan.ToString(), StringComparison.Ordinal);
        Assert.True(plan.Spec.Network);
    }

    [Fact]
    public void A_netboot_directory_that_names_its_root_or_has_no_squashfs_is_booted_as_it_is()
    {
        var named = Netboot("root=live:http://10.0.2.2:8080/rootfs.squashfs\n");
        File.WriteAllText(Path.Combine(named, NetbootArtifactPlan.SquashfsName), "squashfs");
        var downloads = Netboot("basalt.live.url=http://192.0.2.1/rootfs.squashfs\n");
        File.WriteAllText(Path.Combine(downloads, NetbootArtifactPlan.SquashfsName), "squashfs");

        foreach (var directory in new[] { named, downloads, Netboot("ip=dhcp\n") })
        {
            var plan = VmLaunchPlanner.Plan(Options(directory), KvmUsable);
            Assert.Null(plan.NetbootServing);
            Assert.Equal(plan.Spec, plan.SpecServedOn(8123));
        }

        var config = _temp.Combine("config.yaml");
        File.WriteAllText(config, "#cloud-config\nhostname: vm\n");
        Assert.Equal("--cloud-config", Assert.Throws<VmOptionNotApplicableException>(() => VmLaunchPlanner.Plan(Options(Netboot("ip=dhcp\n")) with { CloudConfigPath = config }, KvmUsable)).Option);
    }

    [Fact]
    public void A_bad_cloud_config_for_a_served_netboot_directory_is_refused_while_planning()
    {
        var directory = Netboot("ip=dhcp\n");
        File.WriteAllText(Path.Combine(directory, NetbootArtifactPlan.SquashfsName), "squashfs");
        var config = _temp.Combine("config.yaml");
        File.WriteAllText(config, "hostname: [unclosed\n");

        Assert.Throws<InvalidCloudConfigException>(() => VmLaunchPlanner.Plan(Options(directory) with { CloudConfigPath = config }, KvmUsable));
    }

    [Fact]
    public void Options_an_artifact_cannot_honour_are_refused_before_anything_is_made()
    {
        var config = _temp.Combine("config.yaml");
        File.WriteAllText(config, "#cloud-config\nhostname: vm\n");

        Assert.Equal("--disk", Assert.Throws<VmOptionNotApplicableException>(() => VmLaunchPlanner.Plan(Options(RawDisk()) with { TargetDiskBytes = 1 << 30 }, KvmUsable)).Option);
        Assert.Equal("--cloud-config", Assert.Throws<VmOptionNotApplicableException>(() => VmLaunchPlanner.Plan(Options(Iso()) with { CloudConfigPath = config }, KvmUsable)).Option);
        Assert.Equal("--cloud-config", Assert.Throws<VmOptionNotApplicableException>(() => VmLaunchPlanner.Plan(Options(Qcow2Disk()) with { CloudConfigPath = config }, KvmUsable)).Option);
        Assert.False(Directory.Exists(_temp.Combine("work")));
    }

    [Fact]
    public void A_bad_cloud_config_for_a_raw_disk_is_refused_while_planning()
    {
        var config = _temp.Combine("config.yaml");
        File.WriteAllText(config, "hostname: [unclosed\n");

        Assert.Throws<InvalidCloudConfigException>(() => VmLaunchPlanner.Plan(Options(RawDisk()) with { CloudConfigPath = config }, KvmUsable));
    }

    [Theory]
    [InlineData(VmAccelerator.Auto, true, VmAccelerator.Kvm)]
    [InlineData(VmAccelerator.Auto, false, VmAccelerator.Tcg)]
    [InlineData(VmAccelerator.Tcg, true, VmAccelerator.Tcg)]
    [InlineData(VmAccelerator.Kvm, true, VmAccelerator.Kvm)]
    public void The_accelerator_is_resolved_against_what_the_host_offers(VmAccelerator requested, bool kvm, VmAccelerator expected)
    {
        Assert.Equal(expected, VmLaunchPlanner.ResolveAccelerator(requested, kvm ? KvmUsable : NoKvm));
    }

    [Fact]
    public void Kvm_asked_for_on_a_host_without_it_is_a_typed_error()
    {
        var error = Assert.Throws<KvmUnavailableException>(() => VmLaunchPlanner.Plan(Options(RawDisk()) with { Accelerator = VmAccelerator.Kvm }, NoKvm));

        Assert.Contains("/dev/kvm does not exist", error.Message);
        Assert.Contains("--accel tcg", error.Hint);
    }

    [Fact]
    public void Preflight_refuses_missing_firmware_and_a_port_in_use_and_makes_nothing()
    {
        var launcher = new VmLauncher(new ToolRunner());
        var noFirmware = VmLaunchPlanner.Plan(Options(RawDisk()) with { OvmfCodePath = _temp.Combine("OVMF_CODE.fd") }, KvmUsable);
        Assert.Throws<FirmwareMissingException>(() => launcher.Preflight(noFirmware));

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Assert.Equal(port, Assert.Throws<PortInUseException>(() => VmLauncher.EnsurePortsFree([new PortForward(port, 22)])).Port);
        listener.Stop();
        VmLauncher.EnsurePortsFree([new PortForward(port, 22)]);
        Assert.False(Directory.Exists(_temp.Combine("work")));
    }
}
