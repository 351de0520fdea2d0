using Basalt.Config.Model;

namespace Basalt.Config.Tests;

public sealed class ConfigLayoutSettingsTests
{
    [Fact]
    public void Bind_and_ephemeral_mounts_become_canonical_paths_and_bad_ones_are_reported()
    {
        var config = new CloudConfig
        {
            Install = new InstallConfig
            {
                BindMounts = ["/var/lib/longhorn", "/var//lib/my-app/", "relative/path", "/var/lib/longhorn", "/", "/etc/../root"],
                EphemeralMounts = ["/var/cache/scratch", "/var/lib/my-app"],
            },
        };

        var settings = ConfigLayoutSettings.From(config);

        Assert.Equal(["/var/lib/longhorn", "/var/lib/my-app"], settings.BindMounts);
        Assert.Equal(["/var/cache/scratch"], settings.EphemeralMounts);
        Assert.Equal(4, settings.Problems.Count);
    }

    [Fact]
    public void No_install_section_gives_no_additions()
    {
        var settings = ConfigLayoutSettings.From(new CloudConfig());
        Assert.Empty(settings.BindMounts);
        Assert.Empty(settings.EphemeralMounts);
        Assert.Empty(settings.Problems);
    }
}
