using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

/// <summary>`basalt build raw|qcow2` and `basalt vm`: parsing into options, dry runs and refusals, without root.</summary>
public sealed class ArtifactCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cli-artifacts");

    public void Dispose() => _temp.Dispose();

    private string Tree()
    {
        var root = _temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        File.WriteAllText(Path.Combine(root, "boot", "vmlinuz"), "kernel");
        File.WriteAllText(Path.Combine(root, "boot", "initrd"), "initrd");
        return root;
    }

    private string Config(string text)
    {
        var path = _temp.Combine($"config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    private string FakeRawDisk()
    {
        var path = _temp.Combine("disk.raw");
        var bytes = new byte[8192];
        "EFI PART"u8.CopyTo(bytes.AsSpan(512));
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("qcow2")]
    public async Task Build_raw_and_qcow2_are_the_disk_builder_in_that_format_with_the_cloud_config(string name)
    {
        var config = Config("#cloud-config\nhostname: node1\n");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", name, "--root", Tree(), "-o", _temp.Combine("disk." + name), "--cloud-config", config, "--dry-run", "--output", "json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Equal(name, document.RootElement.GetProperty("format").GetString());
        Assert.Equal(config, document.RootElement.GetProperty("cloudConfig").GetString());
        Assert.Equal(5, document.RootElement.GetProperty("partitions").GetArrayLength());
    }

    [Fact]
    public async Task Build_raw_has_no_format_option_and_its_text_plan_names_the_oem_file()
    {
        var withFormat = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", "--root", Tree(), "-o", _temp.Combine("disk.raw"), "--format", "qcow2", "--dry-run");
        var text = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", "--root", Tree(), "-o", _temp.Combine("disk.raw"), "--cloud-config", Config("#cloud-config\n"), "--dry-run");

        Assert.Equal(2, withFormat.ExitCode);
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("-> COS_OEM:/90_custom.yaml", text.Stdout);
        Assert.Contains("(raw)", text.Stdout);
    }

    [Theory]
    [InlineData("hostname: no-header\n", "no #cloud-config line")]
    [InlineData("#cloud-config\nstages: [\n", "is not valid")]
    public async Task Build_raw_with_a_bad_cloud_config_fails_clearly_and_writes_nothing(string text, string expected)
    {
        var output = _temp.Combine("disk.raw");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "raw", "--root", Tree(), "-o", output, "--cloud-config", Config(text));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(expected, run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Equal(["config-", "rootfs"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(path => Path.GetFileName(path)[..Math.Min(7, Path.GetFileName(path).Length)]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Vm_dry_run_turns_the_options_into_an_overlay_and_a_qemu_command_line()
    {
        var disk = FakeRawDisk();
        var work = _temp.Combine("work");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", disk, "--memory", "1024", "--cpus", "1", "--port-forward", "2222:22", "--port-forward", "8080:80", "--accel", "tcg", "--work-dir", work, "--dry-run");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains($"qemu-img create -q -f qcow2 -b {disk} -F raw {work}/overlay.qcow2", run.Stdout);
        Assert.Contains("-accel tcg", run.Stdout);
        Assert.Contains("-m 1024", run.Stdout);
        Assert.Contains("-smp 1", run.Stdout);
        Assert.Contains("hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80", run.Stdout);
        Assert.Contains("-serial stdio", run.Stdout);
        Assert.False(Directory.Exists(work));
    }

    [Theory]
    [InlineData("22")]
    [InlineData("2222:")]
    [InlineData("70000:22")]
    [InlineData("a:b")]
    public async Task Vm_refuses_a_malformed_port_forward_as_a_usage_error(string value)
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", FakeRawDisk(), "--port-forward", value, "--dry-run");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--port-forward HOST:GUEST", run.Stderr);
    }

    [Fact]
    public async Task Vm_of_a_missing_or_unknown_artifact_fails_clearly()
    {
        var unknown = Config("just text");

        var missing = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", _temp.Combine("nope.raw"), "--dry-run");
        var notArtifact = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", unknown, "--dry-run");

        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr);
        Assert.Equal(1, notArtifact.ExitCode);
        Assert.Contains("is not a raw or qcow2 disk, an ISO or a netboot directory", notArtifact.Stderr);
        Assert.DoesNotContain("   at ", notArtifact.Stderr);
    }

    [Fact]
    public async Task Vm_without_firmware_or_with_a_busy_port_stops_before_making_anything()
    {
        var work = _temp.Combine("work");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var noFirmware = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", FakeRawDisk(), "--accel", "tcg", "--work-dir", work, "--firmware-code", _temp.Combine("OVMF_CODE.fd"));
        var busy = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", FakeRawDisk(), "--accel", "tcg", "--work-dir", work, "--port-forward", $"{port}:22");

        Assert.Equal(1, noFirmware.ExitCode);
        Assert.Contains("UEFI firmware", noFirmware.Stderr);
        Assert.Contains("apt-get install ovmf", noFirmware.Stderr);
        Assert.Equal(1, busy.ExitCode);
        Assert.Contains($"127.0.0.1:{port} is already in use", busy.Stderr);
        Assert.False(Directory.Exists(work));
    }

    [Fact]
    public async Task Vm_refuses_disk_size_for_a_disk_and_cloud_config_for_an_iso()
    {
        var iso = _temp.Combine("live.iso");
        var bytes = new byte[40 * 1024];
        "CD001"u8.CopyTo(bytes.AsSpan(32769));
        await File.WriteAllBytesAsync(iso, bytes);

        var diskSize = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", FakeRawDisk(), "--disk", "8G", "--dry-run");
        var isoConfig = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", iso, "--cloud-config", Config("#cloud-config\n"), "--dry-run");
        var isoPlan = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "vm", iso, "--disk", "4G", "--accel", "tcg", "--dry-run");

        Assert.Equal(1, diskSize.ExitCode);
        Assert.Contains("--disk cannot be used here", diskSize.Stderr);
        Assert.Equal(1, isoConfig.ExitCode);
        Assert.Contains("basalt build iso --cloud-config", isoConfig.Stderr);
        Assert.True(isoPlan.ExitCode == 0, isoPlan.Stderr);
        Assert.Contains("target.qcow2 4294967296", isoPlan.Stdout);
        Assert.Contains("media=cdrom", isoPlan.Stdout);
    }
}
