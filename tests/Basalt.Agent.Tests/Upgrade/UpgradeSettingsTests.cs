using System.Text.Json.Nodes;
using Basalt.Agent.Upgrade;
using Basalt.Config;

namespace Basalt.Agent.Tests.Upgrade;

public sealed class UpgradeSettingsTests
{
    private static UpgradeSettings Read(string json)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        return UpgradeSettings.From(key => KeyPath.Parse(key).Find(root));
    }

    [Fact]
    public void Source_tries_and_insecure_hosts_come_from_the_upgrade_keys()
    {
        var settings = Read("""{"upgrade": {"source": "oci:reg.lan:5000/os:v2", "boot_tries": 5, "allow-insecure-registries": ["reg.lan:5000"]}}""");

        Assert.Equal("oci:reg.lan:5000/os:v2", settings.Source);
        Assert.Equal(5, settings.BootTries);
        Assert.Equal(["reg.lan:5000"], settings.InsecureRegistries);
        Assert.False(settings.AllowSourceRegistryInsecure);
    }

    [Fact]
    public void Kairos_system_uri_is_the_source_and_true_allows_the_source_registry()
    {
        var settings = Read("""{"upgrade": {"system": {"uri": "oci:reg.lan/os:v3"}, "allow-insecure-registries": true}}""");

        Assert.Equal("oci:reg.lan/os:v3", settings.Source);
        Assert.Equal(3, settings.BootTries);
        Assert.True(settings.AllowSourceRegistryInsecure);
    }

    [Fact]
    public void Without_upgrade_keys_the_defaults_hold()
    {
        Assert.Equal(UpgradeSettings.Default with { InsecureRegistries = [] }, Read("{}") with { InsecureRegistries = [] });
        Assert.Null(Read("{}").Source);
    }

    [Fact]
    public void Boot_tries_that_are_no_number_are_refused()
    {
        Assert.Throws<InvalidBootTriesException>(() => Read("""{"upgrade": {"boot_tries": "many"}}"""));
    }

    [Fact]
    public void Read_only_state_mount_is_recognised_from_the_mount_table()
    {
        const string Mounts = "/dev/loop0 / ext4 ro,relatime 0 0\n/dev/vda4 /run/initramfs/cos-state ext4 ro,relatime 0 0\n/dev/vda5 /usr/local ext4 rw,relatime 0 0\n";

        Assert.True(StateMountAccess.IsReadOnlyMount(Mounts, "/run/initramfs/cos-state"));
        Assert.False(StateMountAccess.IsReadOnlyMount(Mounts, "/usr/local"));
        Assert.False(StateMountAccess.IsReadOnlyMount(Mounts, "/tmp/state"));
    }
}
