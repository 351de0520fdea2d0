using Basalt.Boot.Grub;
using Basalt.Build.Init;

namespace Basalt.Agent.Tests.Reset;

/// <summary>The statereset boot entry and the unit that answers it must agree on the kernel argument.</summary>
public sealed class StateResetWiringTests
{
    [Fact]
    public void The_reset_unit_runs_unattended_reset_only_when_the_statereset_argument_is_present()
    {
        var argument = Assert.Single(GrubMenuOptions.Default.ResetArguments);
        var unit = InitFiles.ResetService();

        Assert.Contains($"ConditionKernelCommandLine={argument}\n", unit, StringComparison.Ordinal);
        Assert.Contains("ConditionPathExists=/run/cos/recovery_mode\n", unit, StringComparison.Ordinal);
        Assert.Contains($"ExecStart={InitFiles.BasaltBinaryPath} reset --unattended --reboot\n", unit, StringComparison.Ordinal);
        Assert.Equal(["multi-user.target"], SystemdUnits.ParseInstall(unit).WantedBy);
    }

    [Fact]
    public void The_statereset_menu_entry_boots_recovery_with_that_argument()
    {
        var menu = GrubMenu.Create(GrubMenuOptions.Default);
        var entry = Assert.Single(menu.Entries, entry => entry.Id == GrubMenu.ResetEntry);
        var config = GrubConfigGenerator.MenuConfig(menu);

        Assert.Contains(GrubMenuOptions.Default.ResetArguments[0], entry.EntryArguments);
        Assert.Contains(GrubMenuOptions.Default.ResetArguments[0], config, StringComparison.Ordinal);
    }
}
