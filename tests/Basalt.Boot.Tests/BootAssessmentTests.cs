using Basalt.Boot.Grub;

namespace Basalt.Boot.Tests;

public sealed class BootAssessmentTests
{
    public static TheoryData<string, string, string> Table => new()
    {
        // grubenv before (k=v;k=v)                                   entry booted   grubenv after (changed keys)
        { "", "cos", "" },
        { "saved_entry=fallback", "fallback", "" },
        { "next_entry=recovery;saved_entry=cos", "recovery", "next_entry=<unset>" },
        { "basalt_active_tries=3;basalt_passive_tries=3", "cos", "basalt_active_tries=2;basalt_last_entry=cos" },
        { "basalt_active_tries=1;basalt_passive_tries=3", "cos", "basalt_active_tries=0;basalt_last_entry=cos" },
        { "basalt_active_tries=0;basalt_passive_tries=3", "fallback", "basalt_passive_tries=2;basalt_last_entry=fallback;basalt_fallback_reason=active: no tries left" },
        { "basalt_active_tries=0;basalt_passive_tries=1", "fallback", "basalt_passive_tries=0;basalt_last_entry=fallback;basalt_fallback_reason=active: no tries left" },
        { "basalt_active_tries=0;basalt_passive_tries=0", "recovery", "basalt_last_entry=recovery;basalt_fallback_reason=passive: no tries left" },
        { "basalt_active_tries=9", "cos", "basalt_active_tries=8;basalt_last_entry=cos" },
        { "basalt_active_tries=garbage", "cos", "basalt_active_tries=0;basalt_last_entry=cos" },
        { "basalt_active_tries=12", "cos", "basalt_active_tries=0;basalt_last_entry=cos" },
        { "next_entry=fallback;basalt_active_tries=0;basalt_passive_tries=2", "fallback", "next_entry=<unset>;basalt_passive_tries=1;basalt_last_entry=fallback" },
        { "saved_entry=recovery;basalt_active_tries=0", "recovery", "" },
    };

    internal static Dictionary<string, string> ParseState(string text) =>
        text.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);

    [Theory]
    [MemberData(nameof(Table))]
    public void The_menu_chooses_and_counts_as_the_table_says(string before, string entry, string changes)
    {
        var state = ParseState(before);

        var selection = BootAssessment.Select(state);

        Assert.Equal(entry, selection.Entry);
        var expected = new Dictionary<string, string>(state, StringComparer.Ordinal);
        foreach (var (key, value) in ParseState(changes))
        {
            if (value == "<unset>")
            {
                expected.Remove(key);
            }
            else
            {
                expected[key] = value;
            }
        }

        Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), selection.Environment.OrderBy(kv => kv.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Three_bad_boots_of_a_new_active_then_three_of_passive_then_recovery()
    {
        var environment = GrubEnvironment.Create();
        BootAssessment.Arm(environment, 3);
        var booted = new List<string>();

        for (var boot = 0; boot < 8; boot++)
        {
            var selection = BootAssessment.Select(environment.Variables.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
            booted.Add(selection.Entry);
            foreach (var (key, value) in selection.Environment)
            {
                environment.Set(key, value);
            }
        }

        Assert.Equal(["cos", "cos", "cos", "fallback", "fallback", "fallback", "recovery", "recovery"], booted);
        Assert.Equal("passive: no tries left", environment.Get(GrubEnvironmentKeys.FallbackReason));
        Assert.Equal("3", environment.Get(GrubEnvironmentKeys.BootTries));
    }

    [Fact]
    public void A_good_boot_clears_counting_so_old_flags_cannot_cause_a_fallback()
    {
        var environment = GrubEnvironment.Create();
        BootAssessment.Arm(environment);
        environment.Set(GrubEnvironmentKeys.ActiveTriesLeft, "0");
        environment.Set(GrubEnvironmentKeys.FallbackReason, "active: no tries left");

        BootAssessment.MarkGood(environment);

        Assert.Empty(environment.Variables);
        Assert.Equal("cos", BootAssessment.Select(new Dictionary<string, string>()).Entry);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    public void Tries_outside_what_the_menu_can_count_are_refused(int tries)
    {
        Assert.Throws<InvalidGrubVariableException>(() => BootAssessment.Arm(GrubEnvironment.Create(), tries));
    }
}
