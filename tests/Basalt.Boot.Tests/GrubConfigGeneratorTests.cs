using Basalt.Boot.Grub;

namespace Basalt.Boot.Tests;

public sealed class GrubConfigGeneratorTests
{
    private static readonly string Menu = GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default));

    private static string EntryBody(string script, string id)
    {
        var start = script.IndexOf($"--id {id} {{", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no entry {id}");
        var end = script.IndexOf("\n}\n", start, StringComparison.Ordinal);
        return script[start..end];
    }

    [Fact]
    public void Entries_come_in_the_contract_order()
    {
        var ids = new[] { "cos", "fallback", "recovery", "statereset" };
        var positions = ids.Select(id => Menu.IndexOf($"--id {id} {{", StringComparison.Ordinal)).ToList();

        Assert.All(positions, p => Assert.True(p > 0));
        Assert.Equal(positions.Order(), positions);
        Assert.Equal(4, Menu.Split("menuentry ").Length - 1);
    }

    [Fact]
    public void Active_entry_loops_back_active_img_with_the_mounter_keys()
    {
        var cos = EntryBody(Menu, "cos");

        Assert.Contains("search --no-floppy --label --set=root COS_STATE", cos, StringComparison.Ordinal);
        Assert.Contains("if [ -f /cOS/active.img ]; then", cos, StringComparison.Ordinal);
        Assert.Contains("loopback loop0 /cOS/active.img", cos, StringComparison.Ordinal);
        Assert.Contains(
            "linux (loop0)${kernel} console=tty1 console=ttyS0,115200 net.ifnames=1 rd.cos.oemlabel=COS_OEM rd.cos.oemtimeout=10 panic=5 systemd.crash_reboot=1 rd.emergency=reboot rd.shell=0 root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img ${bootargs} ${extra_cmdline} ${extra_active_cmdline}",
            cos, StringComparison.Ordinal);
        Assert.Contains("initrd (loop0)${initramfs}", cos, StringComparison.Ordinal);
        Assert.Contains("source (loop0)/etc/cos/bootargs.cfg", cos, StringComparison.Ordinal);
        Assert.Contains("echo \"Basalt: /cOS/active.img not found on COS_STATE; trying the next entry\"", cos, StringComparison.Ordinal);
    }

    [Fact]
    public void Fallback_entry_boots_passive_img()
    {
        var fallback = EntryBody(Menu, "fallback");

        Assert.Contains("loopback loop0 /cOS/passive.img", fallback, StringComparison.Ordinal);
        Assert.Contains("root=LABEL=COS_PASSIVE cos-img/filename=/cOS/passive.img ${bootargs} ${extra_cmdline} ${extra_passive_cmdline}", fallback, StringComparison.Ordinal);
    }

    [Fact]
    public void Recovery_prefers_the_squashfs_and_falls_back_to_recovery_img()
    {
        var recovery = EntryBody(Menu, "recovery");

        Assert.Contains("search --no-floppy --label --set=root COS_RECOVERY", recovery, StringComparison.Ordinal);
        var squash = recovery.IndexOf("if [ -f /cOS/recovery.squashfs ]; then", StringComparison.Ordinal);
        var img = recovery.IndexOf("elif [ -f /cOS/recovery.img ]; then", StringComparison.Ordinal);
        Assert.True(squash > 0 && img > squash);
        Assert.Contains("root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs ${bootargs} ${extra_cmdline} ${extra_recovery_cmdline}", recovery, StringComparison.Ordinal);
        Assert.Contains("root=LABEL=COS_SYSTEM cos-img/filename=/cOS/recovery.img ${bootargs}", recovery, StringComparison.Ordinal);
        Assert.DoesNotContain("basalt.reset", recovery, StringComparison.Ordinal);
    }

    [Fact]
    public void Statereset_is_recovery_with_the_unattended_reset_key()
    {
        var reset = EntryBody(Menu, "statereset");

        Assert.Contains("rd.live.squashimg=/cOS/recovery.squashfs basalt.reset=unattended ${bootargs}", reset, StringComparison.Ordinal);
        Assert.Contains("cos-img/filename=/cOS/recovery.img basalt.reset=unattended ${bootargs}", reset, StringComparison.Ordinal);
    }

    [Fact]
    public void Grubenv_is_loaded_from_oem_and_next_entry_is_consumed_and_saved_back()
    {
        Assert.Contains("search --no-floppy --label --set=env_blk COS_OEM", Menu, StringComparison.Ordinal);
        var oemEnv = Menu.IndexOf("load_env -f \"(${env_blk})/grub_oem_env\"", StringComparison.Ordinal);
        var env = Menu.IndexOf("load_env -f \"(${env_blk})/grubenv\"", StringComparison.Ordinal);
        Assert.True(oemEnv > 0 && env > oemEnv);
        Assert.Contains(
            "if [ -n \"${next_entry}\" ]; then\n  set default=\"${next_entry}\"\n  set next_entry=\n  if [ -n \"${env_blk}\" ]; then\n    save_env -f \"(${env_blk})/grubenv\" next_entry\n  fi\nelif [ -n \"${saved_entry}\" ]; then\n  set default=\"${saved_entry}\"\nelse\n  set default=\"cos\"\nfi\n",
            Menu, StringComparison.Ordinal);
        Assert.True(Menu.IndexOf("save_env", StringComparison.Ordinal) < Menu.IndexOf("menuentry", StringComparison.Ordinal));
    }

    [Fact]
    public void The_fallback_chain_is_cos_then_fallback_then_recovery()
    {
        Assert.Contains("set fallback=\"${default_fallback}\"", Menu, StringComparison.Ordinal);
        Assert.Contains("elif [ \"${default}\" = \"fallback\" ]; then\n  set fallback=\"2\"", Menu, StringComparison.Ordinal);
        Assert.Contains("elif [ \"${default}\" = \"statereset\" ]; then\n  set fallback=\"2\"", Menu, StringComparison.Ordinal);
        Assert.Contains("elif [ \"${default}\" = \"recovery\" ]; then\n  unset fallback", Menu, StringComparison.Ordinal);
        Assert.Contains("else\n  set fallback=\"1 2\"\nfi", Menu, StringComparison.Ordinal);
        var menu = GrubMenu.Create(GrubMenuOptions.Default);
        Assert.Equal(1, menu.IndexOf("fallback"));
        Assert.Equal(2, menu.IndexOf("recovery"));
    }

    [Fact]
    public void Serial_and_screen_consoles_and_the_menu_title()
    {
        Assert.Contains("serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\nterminal_input serial console\nterminal_output serial console\n", Menu, StringComparison.Ordinal);
        Assert.Contains("set display_name=\"${default_menu_entry}\"", Menu, StringComparison.Ordinal);
        Assert.Contains("set display_name=\"Basalt\"", Menu, StringComparison.Ordinal);
        Assert.Contains("menuentry \"${display_name} (fallback)\" --id fallback {", Menu, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_change_the_script()
    {
        var options = GrubMenuOptions.Default with { TimeoutSeconds = 1, SerialSpeed = 9600, DisplayName = "Edge", KernelArguments = ["console=ttyS0,9600"] };

        var script = GrubConfigGenerator.MenuConfig(GrubMenu.Create(options));

        Assert.Contains("set timeout=1\n", script, StringComparison.Ordinal);
        Assert.Contains("--speed=9600", script, StringComparison.Ordinal);
        Assert.Contains("set display_name=\"Edge\"", script, StringComparison.Ordinal);
        Assert.Contains("linux (loop0)${kernel} console=ttyS0,9600 root=LABEL=COS_ACTIVE", script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("quiet \"x\"")]
    [InlineData("a;reboot")]
    [InlineData("$evil")]
    [InlineData("two words")]
    public void Arguments_that_would_break_the_script_are_refused(string argument)
    {
        var options = GrubMenuOptions.Default with { KernelArguments = [argument] };

        Assert.Throws<InvalidGrubMenuException>(() => GrubConfigGenerator.MenuConfig(GrubMenu.Create(options)));
        Assert.Throws<InvalidGrubMenuException>(() => GrubConfigGenerator.BootArgumentsConfig([argument]));
    }

    [Fact]
    public void The_efi_stub_finds_the_menu_on_state_then_recovery_then_reboots()
    {
        var stub = GrubConfigGenerator.EfiConfig(GrubMenuOptions.Default);

        var state = stub.IndexOf("search --no-floppy --label --set=basalt_menu_root COS_STATE", StringComparison.Ordinal);
        var recovery = stub.IndexOf("search --no-floppy --label --set=basalt_menu_root COS_RECOVERY", StringComparison.Ordinal);
        Assert.True(state > 0 && recovery > state);
        Assert.Contains("configfile \"(${root})/grub2/grub.cfg\"", stub, StringComparison.Ordinal);
        Assert.Contains("terminal_output serial console", stub, StringComparison.Ordinal);
        Assert.EndsWith("reboot\n", stub, StringComparison.Ordinal);
    }

    [Fact]
    public void Boot_arguments_of_an_image()
    {
        Assert.EndsWith("set bootargs=\"quiet loglevel=3\"\n", GrubConfigGenerator.BootArgumentsConfig(["quiet", "loglevel=3"]), StringComparison.Ordinal);
    }
}
