using System.Security.Cryptography;
using Basalt.Build.Artifacts;
using Basalt.Build.Tests.Artifacts;
using Basalt.Build.Vm;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Vm;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class VmLauncherIntegrationTests : IDisposable
{
    private readonly TempDirectory _temp = new("vm-launch");
    private readonly ToolRunner _runner = new();

    public VmLauncherIntegrationTests()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("grub-mkimage", "grub-common");
        Requires.Tool("qemu-img", "qemu-utils");
        Requires.Tool("qemu-io", "qemu-utils");
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_cloud_config_for_a_raw_disk_lands_on_the_overlays_cos_oem_and_the_artifact_is_untouched()
    {
        var disk = _temp.Combine("disk.raw");
        await new DiskArtifactBuilder(_runner).BuildAsync(new DiskArtifactOptions { RootDirectory = ArtifactTestTrees.Create(_temp.Path), OutputPath = disk });
        var config = _temp.Combine("vm.yaml");
        await File.WriteAllTextAsync(config, "#cloud-config\nhostname: from-basalt-vm\n");
        var before = await HashAsync(disk);
        var plan = VmLaunchPlanner.Plan(new VmLaunchOptions { ArtifactPath = disk, WorkDirectory = _temp.Combine("work"), CloudConfigPath = config }, () => null);

        await new VmLauncher(_runner).PrepareAsync(plan);

        Assert.Equal(before, await HashAsync(disk));
        Assert.Null(await OfflineExt4Partition.Open(_runner, disk, KairosLayout.OemLabel).ReadFileAsync("/" + VmLaunchOptions.CloudConfigName));
        // What the guest sees: the overlay flattened.
        var seen = _temp.Combine("seen.raw");
        await _runner.RunAsync(new ToolInvocation("qemu-img", ["convert", "-O", "raw", plan.PreparedDisks[0].Path, seen]));
        var oem = OfflineExt4Partition.Open(_runner, seen, KairosLayout.OemLabel);
        Assert.Equal("#cloud-config\nhostname: from-basalt-vm\n", System.Text.Encoding.UTF8.GetString((await oem.ReadFileAsync("/" + VmLaunchOptions.CloudConfigName))!));
        Assert.NotNull(await oem.ReadFileAsync("/grubenv"));
        Assert.True(File.Exists(plan.VarsPath));
    }

    [Fact]
    public async Task A_netboot_directory_is_served_at_the_urls_on_the_kernel_command_line_while_qemu_runs_and_no_longer_after()
    {
        var directory = _temp.Combine("netboot");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, NetbootArtifactPlan.KernelName), "kernel");
        await File.WriteAllTextAsync(Path.Combine(directory, NetbootArtifactPlan.InitrdName), "initrd");
        await File.WriteAllTextAsync(Path.Combine(directory, NetbootArtifactPlan.CommandLineName), "console=ttyS0,115200 ip=dhcp\n");
        await File.WriteAllTextAsync(Path.Combine(directory, NetbootArtifactPlan.SquashfsName), "the live root");
        var config = _temp.Combine("node.yaml");
        await File.WriteAllTextAsync(config, "#cloud-config\nhostname: netbooted\n");
        foreach (var firmware in new[] { "OVMF_CODE.fd", "OVMF_VARS.fd" })
        {
            await File.WriteAllTextAsync(_temp.Combine(firmware), "firmware");
        }

        // QEMU's stand-in writes down its arguments and runs until the test lets it stop.
        var bin = _temp.Combine("bin");
        Directory.CreateDirectory(bin);
        var qemu = Path.Combine(bin, QemuCommandLine.Binary);
        await File.WriteAllTextAsync(qemu, "#!/bin/sh\nd=$(dirname \"$0\")\nprintf '%s\\n' \"$@\" > \"$d/args\"\ni=0\nwhile [ ! -e \"$d/stop\" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\n");
        File.SetUnixFileMode(qemu, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var plan = VmLaunchPlanner.Plan(
            new VmLaunchOptions
            {
                ArtifactPath = directory,
                WorkDirectory = _temp.Combine("work"),
                CloudConfigPath = config,
                Accelerator = VmAccelerator.Tcg,
                OvmfCodePath = _temp.Combine("OVMF_CODE.fd"),
                OvmfVarsTemplatePath = _temp.Combine("OVMF_VARS.fd"),
            },
            () => "not asked");

        var run = new VmLauncher(new StandInRunner(_runner, QemuCommandLine.Binary, qemu)).RunAsync(plan);
        var argumentsFile = Path.Combine(bin, "args");
        for (var waited = 0; !File.Exists(argumentsFile) && waited < 300 && !run.IsCompleted; waited++)
        {
            await Task.Delay(100);
        }

        var arguments = await File.ReadAllLinesAsync(argumentsFile);
        var commandLine = arguments[Array.IndexOf(arguments, "-append") + 1];
        var match = System.Text.RegularExpressions.Regex.Match(commandLine, @"basalt\.live\.url=http://10\.0\.2\.2:(\d+)/rootfs\.squashfs config_url=http://10\.0\.2\.2:(\d+)/cloud-config\.yaml");
        Assert.True(match.Success && match.Groups[1].Value == match.Groups[2].Value, $"the kernel gets both URLs on one port: {commandLine}");
        var hostSide = new Uri($"http://127.0.0.1:{match.Groups[1].Value}/");
        using var http = new HttpClient();
        Assert.Equal("the live root", await http.GetStringAsync(new Uri(hostSide, NetbootArtifactPlan.SquashfsName)));
        Assert.Equal("#cloud-config\nhostname: netbooted\n", await http.GetStringAsync(new Uri(hostSide, "cloud-config.yaml")));

        await File.WriteAllTextAsync(Path.Combine(bin, "stop"), string.Empty);
        Assert.Equal(0, await run);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(new Uri(hostSide, NetbootArtifactPlan.SquashfsName)));
        Assert.False(Directory.Exists(_temp.Combine("work")));
    }

    private static async Task<string> HashAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexString(await SHA256.HashDataAsync(stream));
    }
}
