using System.Net;
using System.Text;
using Basalt.Boot.Mounting;
using Basalt.Config.Collection;
using Basalt.Config.Stages;
using Basalt.Testing;

namespace Basalt.Boot.Tests;

/// <summary>
/// The served cloud-config of a netboot (<c>config_url=</c>) in the initramfs: a netbooted node has a network there (it
/// downloaded its root), so the config is fetched and its hostname and early stages apply; a disk boot, which has none
/// yet, does not try.
/// </summary>
public sealed class NetbootConfigTests : IDisposable
{
    private const string ConfigUrl = "http://10.0.2.2:8080/cloud-config.yaml";
    private const string Netboot = "console=ttyS0 ip=dhcp basalt.mode=live boot=basalt basalt.live.url=http://10.0.2.2:8080/rootfs.squashfs config_url=" + ConfigUrl;
    private const string DiskBoot = "root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img config_url=" + ConfigUrl;

    private readonly TempDirectory _sysroot = new("netboot-config");
    private readonly ServedConfig _server = new("#cloud-config\nhostname: netbooted-node\ninstall:\n  ephemeral_mounts: [/var/cache/scratch]\n");

    public NetbootConfigTests()
    {
        Directory.CreateDirectory(_sysroot.Combine("etc"));
    }

    public void Dispose()
    {
        _server.Dispose();
        _sysroot.Dispose();
    }

    [Fact]
    public async Task A_netboot_reads_the_layout_from_the_served_config()
    {
        var settings = await new CloudConfigReader(new ConfigCollector(_server)).ReadLayoutAsync(_sysroot.Path, Netboot);

        Assert.Equal([ConfigUrl], _server.Requests);
        Assert.Equal(["/var/cache/scratch"], settings.EphemeralMounts);
    }

    [Fact]
    public async Task A_netboot_applies_the_served_hostname_in_the_initramfs_stage()
    {
        var stages = new ConfigStageRunner(new ConfigStages(new RecordingToolRunner(), collector: new ConfigCollector(_server)), new RecordingConsole());

        await stages.RunAsync("initramfs", _sysroot.Path, Netboot);

        Assert.Equal("netbooted-node\n", await File.ReadAllTextAsync(_sysroot.Combine("etc/hostname")));
    }

    [Fact]
    public async Task A_disk_boot_has_no_network_in_the_initramfs_and_leaves_config_url_to_the_running_system()
    {
        var settings = await new CloudConfigReader(new ConfigCollector(_server)).ReadLayoutAsync(_sysroot.Path, DiskBoot);

        Assert.Empty(_server.Requests);
        Assert.Empty(settings.EphemeralMounts);
        Assert.False(CloudConfigReader.HasNetwork(DiskBoot));
        Assert.True(CloudConfigReader.HasNetwork(Netboot));
    }

    /// <summary>The netboot server's cloud-config, answered in memory.</summary>
    private sealed class ServedConfig(string body) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var url = request.RequestUri!.ToString();
            Requests.Add(url);
            return Task.FromResult(url == ConfigUrl
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8) }
                : new HttpResponseMessage(HttpStatusCode.NotFound));
        }
    }
}
