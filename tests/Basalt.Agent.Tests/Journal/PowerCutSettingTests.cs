using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Build.Init;
using Basalt.Disk;

namespace Basalt.Agent.Tests.Journal;

public sealed class PowerCutSettingTests
{
    [Theory]
    [InlineData("Exchanging", SwapStep.Exchanging, StepSide.Before)]
    [InlineData("exchanging:after", SwapStep.Exchanging, StepSide.After)]
    [InlineData(" RECORDINGSLOTS:Before ", SwapStep.RecordingSlots, StepSide.Before)]
    [InlineData("0", SwapStep.Staging, StepSide.Before)]
    [InlineData("3:after", SwapStep.Exchanging, StepSide.After)]
    [InlineData("8:before", SwapStep.RecordingHistory, StepSide.Before)]
    public void A_step_is_named_by_name_or_number_with_an_optional_side(string text, SwapStep step, StepSide side)
    {
        var point = Assert.IsType<StepPowerCut>(PowerCutSetting.Parse(text));

        Assert.Equal(new StepPowerCut(step, side), point);
        Assert.Equal(point, PowerCutSetting.Parse(point.Text));
    }

    [Fact]
    public void An_instant_of_the_image_write_is_a_size_or_a_seed()
    {
        Assert.Equal(new ImageWritePowerCut(64 * ByteSize.MiB, null), PowerCutSetting.Parse("image-write:64M"));
        Assert.Equal(new ImageWritePowerCut(4096, null), PowerCutSetting.Parse("IMAGE-WRITE:4096"));
        var seeded = PowerCutSetting.Parse("image-write:seed=7");
        Assert.Equal(new ImageWritePowerCut(null, 7), seeded);
        Assert.Equal("image-write:seed=7", seeded.Text);
        Assert.Equal(seeded, PowerCutSetting.Parse(seeded.Text));
    }

    [Theory]
    [InlineData("Nope")]
    [InlineData("9")]
    [InlineData("99999999999")]
    [InlineData("Exchanging:during")]
    [InlineData("Exchanging:")]
    [InlineData("image-write")]
    [InlineData("image-write:")]
    [InlineData("image-write:lots")]
    [InlineData("image-write:-5")]
    [InlineData("image-write:seed=x")]
    [InlineData("image-write:seed=-1")]
    public void A_bad_value_is_a_typed_error_that_names_the_variable_and_the_forms(string text)
    {
        var error = Assert.Throws<PowerCutSettingInvalidException>(() => PowerCutSetting.Parse(text));

        Assert.Equal("fault-setting-invalid", error.Kind);
        Assert.Equal(text, error.Value);
        Assert.Contains(PowerCutSetting.EnvironmentVariable, error.Message, StringComparison.Ordinal);
        Assert.Contains("Exchanging", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void The_environment_names_the_point_or_nothing()
    {
        Assert.Null(PowerCutSetting.FromEnvironment(_ => null));
        Assert.Null(PowerCutSetting.FromEnvironment(_ => "  "));
        Assert.Equal(
            new StepPowerCut(SwapStep.Retiring, StepSide.After),
            PowerCutSetting.FromEnvironment(name => name == "BASALT_FAULT_POWERCUT_AT" ? "Retiring:after" : null));
        Assert.Throws<PowerCutSettingInvalidException>(() => PowerCutSetting.FromEnvironment(_ => "sometime"));
    }

    [Fact]
    public void A_seed_picks_the_same_instant_every_time_between_5_and_90_percent_of_the_image()
    {
        const long expected = 700 * ByteSize.MiB;
        var thresholds = Enumerable.Range(0, 50).Select(seed => new ImageWritePowerCut(null, seed).ThresholdFor(expected)).ToList();

        Assert.All(thresholds, t => Assert.InRange(t, expected * 5 / 100, expected * 90 / 100));
        Assert.Equal(thresholds[7], new ImageWritePowerCut(null, 7).ThresholdFor(expected));
        Assert.True(thresholds.Distinct().Count() > 40, "different seeds pick different instants");
        Assert.Equal(123, new ImageWritePowerCut(123, null).ThresholdFor(expected));
    }

    [Fact]
    public void Every_step_boundary_is_listed_once_in_journal_order()
    {
        var points = PowerCutSetting.EveryStepBoundary();

        Assert.Equal(Enum.GetValues<SwapStep>().Length * 2, points.Count);
        Assert.Equal(points.Count, points.Distinct().Count());
        Assert.Equal(new StepPowerCut(SwapStep.Staging, StepSide.Before), points[0]);
        Assert.Equal(new StepPowerCut(SwapStep.RecordingHistory, StepSide.After), points[^1]);
    }

    [Theory]
    [InlineData(StepSide.Before)]
    [InlineData(StepSide.After)]
    public void Step_hooks_cut_only_at_their_step_and_side(StepSide side)
    {
        var cuts = new List<PowerCutPoint>();
        var point = new StepPowerCut(SwapStep.Relabeling, side);
        var hooks = PowerCutHooks.For(point, cuts.Add);

        foreach (var step in Enum.GetValues<SwapStep>())
        {
            hooks.BeforeStep?.Invoke(step);
            Assert.Equal(step > SwapStep.Relabeling || (side == StepSide.Before && step == SwapStep.Relabeling) ? 1 : 0, cuts.Count);
            hooks.AfterStep?.Invoke(step);
            Assert.Equal(step >= SwapStep.Relabeling ? 1 : 0, cuts.Count);
        }

        Assert.Equal([point], cuts);
        Assert.Null(hooks.WhilePreparing);
    }

    [Fact]
    public void Image_write_hooks_cut_once_the_threshold_is_written()
    {
        var cuts = new List<PowerCutPoint>();
        var hooks = PowerCutHooks.For(new ImageWritePowerCut(ByteSize.MiB, null), cuts.Add);

        hooks.WhilePreparing!(new PreparationProgress(ByteSize.MiB - 1, 10 * ByteSize.MiB));
        Assert.Empty(cuts);
        hooks.WhilePreparing!(new PreparationProgress(ByteSize.MiB, 10 * ByteSize.MiB));
        Assert.Single(cuts);
        Assert.Null(hooks.BeforeStep);
        Assert.Null(hooks.AfterStep);
    }

    [Fact]
    public void The_boot_time_recovery_unit_runs_basalt_recover_early_only_when_a_journal_is_left_on_an_active_or_passive_boot()
    {
        var text = InitFiles.RecoverService();

        Assert.Equal(InitFiles.LifecycleJournalPath, NodePaths.Running.Journal);
        Assert.Contains($"ConditionPathExists={NodePaths.Running.Journal}\n", text, StringComparison.Ordinal);
        Assert.Contains("ConditionPathExists=|/run/cos/active_mode\n", text, StringComparison.Ordinal);
        Assert.Contains("ConditionPathExists=|/run/cos/passive_mode\n", text, StringComparison.Ordinal);
        Assert.Contains("ExecStart=/usr/bin/basalt recover --boot\n", text, StringComparison.Ordinal);
        Assert.Contains("DefaultDependencies=no\n", text, StringComparison.Ordinal);
        Assert.Contains($"Before=sysinit.target {InitFiles.StageUnitName("fs")} {InitFiles.BootCompleteUnit}\n", text, StringComparison.Ordinal);
        Assert.Equal(["sysinit.target"], SystemdUnits.ParseInstall(text).WantedBy);
    }
}
