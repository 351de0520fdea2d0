using System.Net;
using System.Net.Sockets;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

/// <summary>`basalt serve netboot` refusing bad input: a clear message and hint, exit status 1, no stack trace, nothing served.</summary>
public sealed class NetbootCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cli-netboot");

    public void Dispose() => _temp.Dispose();

    private string NetbootDirectory()
    {
        var directory = _temp.Combine("netboot");
        Directory.CreateDirectory(directory);
        foreach (var name in new[] { "vmlinuz", "initrd", "rootfs.squashfs" })
        {
            File.WriteAllText(Path.Combine(directory, name), name);
        }

        File.WriteAllText(Path.Combine(directory, "cmdline"), "console=ttyS0 ip=dhcp basalt.mode=live boot=basalt\n");
        return directory;
    }

    /// <summary>`basalt serve netboot ARGS`, stopped after a minute: a server that wrongly started fails the test instead of hanging it.</summary>
    private static async Task<CliRun> ServeAsync(params string[] args)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        return await CliRunner.RunAsync(BasaltApp.CreateDefault(), stop.Token, ["serve", "netboot", .. args]);
    }

    private static void AssertRefused(CliRun run, string expected)
    {
        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Contains(expected, run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("serving ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_that_is_not_a_netboot_directory_names_what_it_lacks_and_how_to_make_one()
    {
        var directory = NetbootDirectory();
        File.Delete(Path.Combine(directory, "rootfs.squashfs"));

        var lacking = await ServeAsync(directory, "--listen", "127.0.0.1:1");
        var missing = await ServeAsync(_temp.Combine("nowhere"), "--listen", "127.0.0.1:1");

        AssertRefused(lacking, "is not a netboot directory: it lacks rootfs.squashfs");
        Assert.Contains("basalt build netboot", lacking.Stderr, StringComparison.Ordinal);
        AssertRefused(missing, "is not a netboot directory");
    }

    [Theory]
    [InlineData("hostname: node1\n", "no #cloud-config line")]
    [InlineData("#cloud-config\nstages: [unclosed\n", "is not valid")]
    public async Task A_cloud_config_the_node_would_skip_is_refused_before_serving(string text, string expected)
    {
        var config = _temp.Combine("node.yaml");
        await File.WriteAllTextAsync(config, text);

        var run = await ServeAsync(NetbootDirectory(), "--cloud-config", config, "--listen", "127.0.0.1:1");

        AssertRefused(run, expected);
    }

    [Fact]
    public async Task A_missing_cloud_config_and_a_malformed_listen_address_are_refused()
    {
        var missing = await ServeAsync(NetbootDirectory(), "--cloud-config", _temp.Combine("none.yaml"), "--listen", "127.0.0.1:1");
        var badListen = await ServeAsync(NetbootDirectory(), "--listen", "localhost");

        AssertRefused(missing, "does not exist");
        Assert.Equal(2, badListen.ExitCode);
        Assert.Contains("is not ADDRESS:PORT", badListen.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tiers.Key, Tiers.Integration)]
    public async Task A_port_in_use_is_a_typed_error_that_names_the_address_and_the_way_out()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var run = await ServeAsync(NetbootDirectory(), "--listen", $"127.0.0.1:{port}");

        AssertRefused(run, $"cannot listen on 127.0.0.1:{port}");
        Assert.Contains("--listen", run.Stderr, StringComparison.Ordinal);
    }
}
