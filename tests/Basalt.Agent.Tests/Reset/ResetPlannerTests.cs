using System.Text.Json;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Agent.Reset;
using Basalt.Config.Model;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Reset;

public sealed class ResetPlannerTests
{
    private static ResetRequest Node(TempDirectory temp, bool squashfs = true, bool ext4 = false, params string[] partitions)
    {
        var paths = new NodePaths { RecoveryMount = temp.Combine("recovery"), StateMount = temp.Combine("state"), OemMount = temp.Combine("oem"), PersistentMount = temp.Combine("persistent") };
        Directory.CreateDirectory(Path.Combine(paths.RecoveryMount, "cOS"));
        if (squashfs)
        {
            File.WriteAllText(paths.RecoverySquashfs, "squashfs");
        }

        if (ext4)
        {
            File.WriteAllText(paths.RecoveryImage, "ext4");
        }

        Directory.CreateDirectory(temp.Combine("dev", "disk", "by-partlabel"));
        Directory.CreateDirectory(temp.Combine("dev", "disk", "by-label"));
        foreach (var label in partitions)
        {
            File.WriteAllText(temp.Combine("dev", "disk", "by-partlabel", label), string.Empty);
        }

        File.WriteAllText(temp.Combine("recovery_mode"), string.Empty);
        return new ResetRequest
        {
            Paths = paths,
            RecoveryModeSentinel = temp.Combine("recovery_mode"),
            DeviceLinkDirectory = temp.Combine("dev", "disk"),
            WorkDirectory = temp.Combine("work"),
        };
    }

    [Fact]
    public void Reset_outside_recovery_is_refused()
    {
        using var temp = new TempDirectory("reset");
        var request = Node(temp, partitions: ["COS_STATE"]);
        File.Delete(request.RecoveryModeSentinel);

        Assert.Throws<NotInRecoveryException>(() => ResetPlanner.Plan(request));
    }

    [Fact]
    public void The_recovery_squashfs_is_preferred_and_the_image_is_the_fallback()
    {
        using var temp = new TempDirectory("reset");
        var both = ResetPlanner.Plan(Node(temp, squashfs: true, ext4: true, "COS_STATE"));
        Assert.Equal("squashfs", both.RecoveryImageType);

        using var other = new TempDirectory("reset");
        var image = ResetPlanner.Plan(Node(other, squashfs: false, ext4: true, "COS_STATE"));
        Assert.Equal("ext4", image.RecoveryImageType);
        Assert.EndsWith("/cOS/recovery.img", image.RecoveryImage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_without_a_recovery_image_or_state_partition_is_refused()
    {
        using var temp = new TempDirectory("reset");
        Assert.Throws<ResetSourceNotFoundException>(() => ResetPlanner.Plan(Node(temp, squashfs: false, ext4: false, "COS_STATE")));

        using var other = new TempDirectory("reset");
        var error = Assert.Throws<ResetSourceNotFoundException>(() => ResetPlanner.Plan(Node(other, partitions: ["COS_PERSISTENT"])));
        Assert.Contains("COS_STATE", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void By_default_persistent_is_formatted_and_oem_kept()
    {
        using var temp = new TempDirectory("reset");

        var plan = ResetPlanner.Plan(Node(temp, partitions: ["COS_STATE", "COS_PERSISTENT", "COS_OEM"]));

        Assert.True(plan.ResetPersistent);
        Assert.False(plan.ResetOem);
        Assert.Equal(PowerAction.None, plan.After);
        Assert.Contains(plan.Steps, step => step.StartsWith("format", StringComparison.Ordinal) && step.Contains("COS_PERSISTENT", StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Steps, step => step.StartsWith("format", StringComparison.Ordinal) && step.Contains("COS_OEM", StringComparison.Ordinal));
        Assert.Contains(plan.Steps, step => step.Contains("history", StringComparison.Ordinal));
    }

    [Fact]
    public void Persistent_is_kept_when_the_flag_or_the_reset_section_says_so()
    {
        using var temp = new TempDirectory("reset");
        var request = Node(temp, partitions: ["COS_STATE", "COS_PERSISTENT", "COS_OEM"]);

        var byFlag = ResetPlanner.Plan(request with { ResetPersistent = false, Config = new CloudConfig { Reset = new ResetConfig { ResetPersistent = true } } });
        var byConfig = ResetPlanner.Plan(request with { Config = new CloudConfig { Reset = new ResetConfig { ResetPersistent = false } } });

        Assert.False(byFlag.ResetPersistent);
        Assert.False(byConfig.ResetPersistent);
        Assert.DoesNotContain(byConfig.Steps, step => step.StartsWith("format", StringComparison.Ordinal));
    }

    [Fact]
    public void A_node_without_a_persistent_partition_resets_its_images_only_by_default()
    {
        using var temp = new TempDirectory("reset");

        var plan = ResetPlanner.Plan(Node(temp, partitions: ["COS_STATE"]));

        Assert.False(plan.ResetPersistent);
    }

    [Fact]
    public void Flags_and_the_reset_section_ask_for_formatting_and_reboot()
    {
        using var temp = new TempDirectory("reset");
        var request = Node(temp, partitions: ["COS_STATE", "COS_PERSISTENT", "COS_OEM"]);

        var byFlags = ResetPlanner.Plan(request with { ResetPersistent = true, ResetOem = true, Reboot = true });
        var byConfig = ResetPlanner.Plan(request with { Config = new CloudConfig { Reset = new ResetConfig { ResetPersistent = true, Poweroff = true } } });

        Assert.True(byFlags.ResetPersistent);
        Assert.True(byFlags.ResetOem);
        Assert.Equal(PowerAction.Reboot, byFlags.After);
        Assert.Contains(byFlags.Steps, step => step.StartsWith("format", StringComparison.Ordinal) && step.Contains("COS_PERSISTENT", StringComparison.Ordinal));
        Assert.True(byConfig.ResetPersistent);
        Assert.False(byConfig.ResetOem);
        Assert.Equal(PowerAction.Poweroff, byConfig.After);
        using var json = JsonDocument.Parse(byFlags.ToJson());
        Assert.True(json.RootElement.GetProperty("resetPersistent").GetBoolean());
        Assert.Equal("reboot", json.RootElement.GetProperty("after").GetString());
    }

    [Fact]
    public void Formatting_a_partition_that_is_not_there_is_refused()
    {
        using var temp = new TempDirectory("reset");
        var request = Node(temp, partitions: ["COS_STATE"]) with { ResetPersistent = true };

        var error = Assert.Throws<ResetSourceNotFoundException>(() => ResetPlanner.Plan(request));
        Assert.Contains("COS_PERSISTENT", error.Message, StringComparison.Ordinal);
    }
}
