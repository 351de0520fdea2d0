using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Basalt.Build.Artifacts;
using Basalt.Build.Netboot;
using Basalt.Testing;

namespace Basalt.Build.Tests.Netboot;

/// <summary>A real Kestrel on 127.0.0.1 serving a netboot directory, fetched with HttpClient.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class NetbootServerIntegrationTests : IDisposable
{
    private readonly TempDirectory _temp = new("netboot-serve");
    private readonly byte[] _squashfs = new byte[1024 * 1024];

    public NetbootServerIntegrationTests()
    {
        new Random(7).NextBytes(_squashfs);
        File.WriteAllBytes(_temp.Combine(NetbootArtifactPlan.SquashfsName), _squashfs);
        File.WriteAllText(_temp.Combine(NetbootArtifactPlan.KernelName), "kernel");
        File.WriteAllText(_temp.Combine(NetbootArtifactPlan.InitrdName), "initrd");
        File.WriteAllText(_temp.Combine(NetbootArtifactPlan.CommandLineName), "console=ttyS0 ip=dhcp basalt.mode=live boot=basalt\n");
    }

    public void Dispose() => _temp.Dispose();

    private NetbootServerOptions Options(int port = 0) => new() { Directory = _temp.Path, Listen = new IPEndPoint(IPAddress.Loopback, port) };

    [Fact]
    public async Task The_squashfs_is_served_with_range_requests_and_every_fetch_is_logged_with_the_client()
    {
        var fetches = new ConcurrentQueue<NetbootFetch>();
        await using var server = await NetbootServer.StartAsync(Options(), fetches.Enqueue);
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        using var request = new HttpRequestMessage(HttpMethod.Get, NetbootArtifactPlan.SquashfsName);
        request.Headers.Range = new RangeHeaderValue(1000, 1999);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(_squashfs[1000..2000], await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(_squashfs.Length, response.Content.Headers.ContentRange?.Length);

        var whole = await http.GetByteArrayAsync(NetbootArtifactPlan.SquashfsName);
        Assert.Equal(_squashfs, whole);

        // The server logs once the response is complete, which may be a moment after the client has read it.
        for (var wait = 0; wait < 50 && fetches.Count(f => f.Path == "/" + NetbootArtifactPlan.SquashfsName) < 2; wait++)
        {
            await Task.Delay(100);
        }

        var fetch = Assert.Single(fetches, f => f.Range is not null);
        Assert.Equal("127.0.0.1", fetch.Client);
        Assert.Equal("/" + NetbootArtifactPlan.SquashfsName, fetch.Path);
        Assert.Equal(206, fetch.Status);
        Assert.Equal(2, fetches.Count(f => f.Path == "/" + NetbootArtifactPlan.SquashfsName));
    }

    [Fact]
    public async Task The_ipxe_script_names_the_address_the_node_used_and_the_cloud_config_is_served()
    {
        var config = _temp.Combine("node.yaml");
        await File.WriteAllTextAsync(config, "#cloud-config\nhostname: netbooted\n");
        await using var server = await NetbootServer.StartAsync(Options() with { CloudConfigFile = config }, _ => { });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var script = await http.GetStringAsync(NetbootArtifactPlan.IpxeName);
        Assert.StartsWith("#!ipxe\n", script, StringComparison.Ordinal);
        Assert.Contains($"kernel {server.BaseUrl}vmlinuz initrd=initrd console=ttyS0", script, StringComparison.Ordinal);
        Assert.Contains($"basalt.live.url={server.BaseUrl}rootfs.squashfs", script, StringComparison.Ordinal);
        Assert.Contains($" config_url={server.BaseUrl}cloud-config.yaml\n", script, StringComparison.Ordinal);
        Assert.Contains("hostname: netbooted", await http.GetStringAsync("cloud-config.yaml"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("nothing-here")).StatusCode);
    }

    [Fact]
    public async Task Without_a_cloud_config_the_ipxe_script_sends_the_node_to_none()
    {
        await using var server = await NetbootServer.StartAsync(Options(), _ => { });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var script = await http.GetStringAsync(NetbootArtifactPlan.IpxeName);
        Assert.Contains("basalt.live.url=", script, StringComparison.Ordinal);
        Assert.DoesNotContain("config_url", script, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("cloud-config.yaml")).StatusCode);
    }

    [Fact]
    public async Task A_port_in_use_and_a_directory_without_the_files_are_typed_errors()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<NetbootPortInUseException>(() => NetbootServer.StartAsync(Options(port), _ => { }));
        Assert.Equal(port, error.Endpoint.Port);
        Assert.Contains("--listen", error.Hint, StringComparison.Ordinal);

        File.Delete(_temp.Combine(NetbootArtifactPlan.InitrdName));
        var missing = await Assert.ThrowsAsync<NetbootDirectoryException>(() => NetbootServer.StartAsync(Options(), _ => { }));
        Assert.Equal([NetbootArtifactPlan.InitrdName], missing.Missing);
    }
}
