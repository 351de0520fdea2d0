using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Basalt.Agent.Install;
using Basalt.Agent.Slots;
using Basalt.Boot.Mounting;
using Basalt.Build.Artifacts;
using Basalt.Build.Vm;
using Basalt.Platform;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// A node netboots from the published <c>basalt serve netboot</c>, in one boot: <c>basalt build netboot</c> makes the
/// directory from the fixture's OS tree, the server (a process of its own, with <c>--cloud-config</c>) renders the iPXE
/// script for the address a guest reaches it at (10.0.2.2 through QEMU user networking), and QEMU boots the directory's
/// kernel and initrd with that script's kernel command line. Proves: the initramfs brings the network up and downloads
/// the root squashfs from the server; the node runs live from it (<c>/run/cos/live_mode</c>, <c>/</c> a squashfs on a
/// loop device backed by the downloaded file, byte for byte the served one); the served cloud-config is applied
/// (hostname, a file written by its <c>boot</c> stage); the slots file served beside the squashfs (as
/// <c>basalt build netboot IMAGE</c> writes it) lies beside the downloaded squashfs, where the installer reads it;
/// <c>basalt install</c> is there to install from the live system; the server logged the node fetching the squashfs,
/// the slots file and the cloud-config.
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class NetbootScenarioTests : IDisposable
{
    private const string Hostname = "basalt-netboot-e2e";
    private const string MarkerPath = "/run/basalt-netboot-e2e";
    private const string MarkerContent = "written by the served cloud-config";
    private const string MediumImage = "registry.example/basalt/netboot-e2e:v1";
    private const string MediumDigest = "sha256:4e1f7a9c0b2d3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7";

    /// <summary>The host's 127.0.0.1 as a guest on QEMU user networking sees it.</summary>
    private const string HostFromGuest = "10.0.2.2";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(25);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-netboot");

    public NetbootScenarioTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        Requires.Tool("mksquashfs", "squashfs-tools");
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_node_netboots_live_from_basalt_serve_netboot_and_applies_the_served_cloud_config()
    {
        var directory = _temp.Combine("netboot");
        using (var build = new CancellationTokenSource(BuildTimeout))
        {
            var built = await _os.Runner.RunAsync(new ToolInvocation(_os.BasaltBinary, ["build", "netboot", "--root", _os.RootDirectory, "-o", directory]), build.Token);
            _output.WriteLine(built.StandardOutput.Trim());
        }

        // As basalt build netboot IMAGE names the image its squashfs holds (a --root build has no image to name).
        var mediumSlots = Path.Combine(directory, InstallSlots.MediumFileName);
        await File.WriteAllBytesAsync(mediumSlots, SlotStore.Serialize(InstallSlots.Describe(MediumImage, MediumDigest, buildDate: null, DateTimeOffset.UtcNow)));

        var config = _temp.Combine("node.yaml");
        await File.WriteAllTextAsync(config, $"""
            #cloud-config
            hostname: {Hostname}
            stages:
              boot:
                - name: netboot e2e marker
                  files:
                    - path: {MarkerPath}
                      permissions: 0644
                      content: "{MarkerContent}"

            """);

        var port = FreePort();
        var server = BackgroundProcess.Start(
            new ToolInvocation(_os.BasaltBinary, ["serve", "netboot", directory, "--cloud-config", config, "--listen", $"127.0.0.1:{port}"]),
            _os.Runner,
            _temp.Combine("server.log"));
        VirtualMachine? vm = null;
        try
        {
            await WaitAsync(server, "serving .* at http://127.0.0.1:" + port, TimeSpan.FromMinutes(2), "basalt serve netboot starts listening");
            var commandLine = await KernelCommandLineFromIpxeAsync(port);
            _output.WriteLine($"kernel command line from the server's iPXE script: {commandLine}");
            Assert.Contains($"basalt.live.url=http://{HostFromGuest}:{port}/{NetbootArtifactPlan.SquashfsName}", commandLine, StringComparison.Ordinal);
            Assert.Contains($"config_url=http://{HostFromGuest}:{port}/cloud-config.yaml", commandLine, StringComparison.Ordinal);

            var spec = new VmSpec
            {
                KernelPath = Path.Combine(directory, NetbootArtifactPlan.KernelName),
                InitrdPath = Path.Combine(directory, NetbootArtifactPlan.InitrdName),
                KernelCommandLine = commandLine,
                MemoryMiB = 3072,
                Cpus = 2,
                Network = true,
            };
            vm = VirtualMachine.Start(spec, _temp.Combine("vm"), _os.Runner);
            await LoginOrFailFastAsync(vm, server);

            await CheckAsync(vm, server, $"test \"$(cat /run/cos/live_mode)\" = 1", "the mounter booted the live mode (/run/cos/live_mode)");
            var root = await CheckAsync(vm, server, "findmnt -n -o FSTYPE,SOURCE /", "the root is mounted");
            Assert.Matches(@"^squashfs\s+/dev/loop\d+$", root);
            var loop = root.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            var backing = await CheckAsync(vm, server, $"losetup -n -O BACK-FILE {loop}", "the root's loop device has a backing file");
            Assert.Equal("/run/basalt/live/rootfs.squashfs", backing.Trim());
            var size = await CheckAsync(vm, server, "stat -c %s /run/basalt/live/rootfs.squashfs", "the downloaded squashfs is there");
            Assert.Equal(new FileInfo(Path.Combine(directory, NetbootArtifactPlan.SquashfsName)).Length, long.Parse(size.Trim(), System.Globalization.CultureInfo.InvariantCulture));
            var slots = await CheckAsync(vm, server, $"sha256sum {BootPlanner.DownloadedSlots}", "the initramfs downloaded the slots file served beside the squashfs");
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(mediumSlots))), slots.Split(' ')[0]);
            Assert.Equal(BootPlanner.DownloadedSlots, InstallSlots.BesideSquashfs(backing.Trim()));

            var hostname = await vm.RunAsync("hostname", CommandTimeout);
            var marker = await vm.RunAsync($"cat {MarkerPath}", CommandTimeout);
            if (hostname.Output.Trim() != Hostname || marker.ExitCode != 0 || marker.Output.Trim() != MarkerContent)
            {
                Assert.Fail($"the served cloud-config is applied: hostname '{hostname.Output.Trim()}' (want {Hostname}), {MarkerPath} '{marker.Output.Trim()}' (want '{MarkerContent}')\n{await DiagnosticsAsync(vm)}\n--- server log ---\n{server.Output}");
            }

            await CheckAsync(vm, server, "command -v basalt && basalt install --help", "basalt install is available on the live node");

            var log = server.Output;
            Assert.True(Regex.IsMatch(log, $@"GET /{Regex.Escape(NetbootArtifactPlan.SquashfsName)} 200"), $"the server logged the node downloading the squashfs\n{log}");
            Assert.True(Regex.IsMatch(log, @"GET /cloud-config\.yaml 200"), $"the server logged the node fetching its cloud-config\n{log}");
            Assert.True(Regex.IsMatch(log, $@"GET /{Regex.Escape(InstallSlots.MediumFileName)} 200"), $"the server logged the node fetching the slots file\n{log}");
            _output.WriteLine("--- server log ---\n" + log);
        }
        finally
        {
            if (vm is not null)
            {
                _output.WriteLine("--- console tail ---\n" + Tail(vm.Console, 6000));
                await vm.DisposeAsync();
            }

            await server.DisposeAsync();
        }

        Assert.True(server.HasExited, "the server process is stopped");
    }

    /// <summary>What a node's iPXE is told: the server renders boot.ipxe for the address the request was sent to.</summary>
    private static async Task<string> KernelCommandLineFromIpxeAsync(int port)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        using var request = new HttpRequestMessage(HttpMethod.Get, NetbootArtifactPlan.IpxeName);
        request.Headers.Host = $"{HostFromGuest}:{port}";
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var script = await response.Content.ReadAsStringAsync();
        var kernel = script.Split('\n').Single(line => line.StartsWith("kernel ", StringComparison.Ordinal));
        // "kernel URL initrd=initrd ARGS...": QEMU loads the kernel and initrd itself, so only ARGS remain.
        return string.Join(' ', kernel.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2).Where(word => !word.StartsWith("initrd=", StringComparison.Ordinal)));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Logs in as root, but stops at once when the boot visibly failed instead of waiting out the timeout.</summary>
    private static async Task LoginOrFailFastAsync(VirtualMachine vm, BackgroundProcess server)
    {
        using var cancellation = new CancellationTokenSource();
        var login = vm.LoginAsync("root", BasaltOsFixture.RootPassword, BootTimeout, 0, cancellation.Token);
        var failure = vm.WaitForAsync(new Regex(@"basalt: the boot cannot go on.*|Kernel panic.*|basalt: mounting the root failed.*"), BootTimeout, 0, cancellation.Token);
        var first = await Task.WhenAny(login, failure);
        await cancellation.CancelAsync();
        if (first == failure && failure.IsCompletedSuccessfully)
        {
            Assert.Fail($"the netbooted node did not boot: '{failure.Result.Value.Trim()}'\n--- console tail ---\n{Tail(vm.Console, 6000)}\n--- server log ---\n{server.Output}");
        }

        try
        {
            await login;
        }
        catch (VmTimeoutException exception)
        {
            Assert.Fail($"the netbooted node gave no login: {exception.Message}\n--- console tail ---\n{Tail(vm.Console, 6000)}\n--- server log ---\n{server.Output}");
        }

        try
        {
            await failure;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<string> CheckAsync(VirtualMachine vm, BackgroundProcess server, string command, string proves)
    {
        var result = await vm.RunAsync(command, CommandTimeout);
        Assert.True(result.ExitCode == 0, $"{proves}: '{command}' exited {result.ExitCode}\n--- output ---\n{result.Output}\n--- console tail ---\n{Tail(vm.Console, 4000)}\n--- server log ---\n{server.Output}");
        return result.Output.Trim();
    }

    /// <summary>What the node says about its config and network, for a failure message.</summary>
    private static async Task<string> DiagnosticsAsync(VirtualMachine vm)
    {
        var result = await vm.RunAsync("cat /proc/cmdline; ip -4 addr 2>/dev/null || cat /proc/net/fib_trie; journalctl -b --no-pager -o cat -u basalt-stage-boot -u basalt-stage-fs -u systemd-networkd | tail -n 60", CommandTimeout);
        return "--- node diagnostics ---\n" + result.Output;
    }

    private static async Task WaitAsync(BackgroundProcess process, string pattern, TimeSpan timeout, string proves)
    {
        var regex = new Regex(pattern);
        try
        {
            await process.WaitForLineAsync(regex.IsMatch, timeout);
        }
        catch (TimeoutException exception)
        {
            Assert.Fail($"{proves}: waited for /{pattern}/ in vain ({exception.Message})\n--- output ---\n{Tail(process.Output, 4000)}");
        }
    }

    private static string Tail(string text, int length) => ConsoleText.Tail(text, length);
}
