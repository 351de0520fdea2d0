using Basalt.Boot;
using Basalt.Boot.CommandLine;

namespace Basalt.Boot.Tests;

public sealed class BootParametersTests
{
    private const string Base = "console=tty1 console=ttyS0,115200 rd.cos.oemlabel=COS_OEM rd.cos.oemtimeout=10 panic=5";

    [Fact]
    public void Active_from_the_grub_command_line()
    {
        var parameters = BootParameters.Parse($"{Base} root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img");

        Assert.Equal(BootMode.Active, parameters.Mode);
        Assert.Equal(DeviceReference.Label("COS_STATE"), parameters.ImageContainer);
        Assert.Equal("/cOS/active.img", parameters.ImagePath);
        Assert.Equal(RootImageFormat.FileSystemImage, parameters.ImageFormat);
        Assert.Equal(DeviceReference.Label("COS_ACTIVE"), parameters.Root);
        Assert.Equal("COS_OEM", parameters.OemLabel);
        Assert.Equal(TimeSpan.FromSeconds(10), parameters.OemTimeout);
        Assert.False(parameters.Reset);
    }

    [Fact]
    public void Passive_and_recovery_image_from_their_labels()
    {
        var passive = BootParameters.Parse("root=LABEL=COS_PASSIVE cos-img/filename=/cOS/passive.img");
        var recovery = BootParameters.Parse("root=LABEL=COS_SYSTEM cos-img/filename=/cOS/recovery.img");

        Assert.Equal(BootMode.Passive, passive.Mode);
        Assert.Equal(DeviceReference.Label("COS_STATE"), passive.ImageContainer);
        Assert.Equal(BootMode.Recovery, recovery.Mode);
        Assert.Equal(DeviceReference.Label("COS_RECOVERY"), recovery.ImageContainer);
        Assert.Equal("/cOS/recovery.img", recovery.ImagePath);
    }

    [Fact]
    public void The_image_file_defaults_from_the_label()
    {
        Assert.Equal("/cOS/passive.img", BootParameters.Parse("root=LABEL=COS_PASSIVE").ImagePath);
    }

    [Fact]
    public void Recovery_squashfs_as_kairos_writes_it()
    {
        var parameters = BootParameters.Parse("root=live:LABEL=COS_RECOVERY rd.live.dir=/ rd.live.squashimg=/cOS/recovery.squashfs");

        Assert.Equal(BootMode.Recovery, parameters.Mode);
        Assert.Equal(DeviceReference.Label("COS_RECOVERY"), parameters.ImageContainer);
        Assert.Equal("/cOS/recovery.squashfs", parameters.ImagePath);
        Assert.Equal(RootImageFormat.Squashfs, parameters.ImageFormat);
    }

    [Theory]
    [InlineData("root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs", "/rootfs.squashfs")]
    [InlineData("root=live:CDLABEL=COS_LIVE rd.live.dir=LiveOS rd.live.squashimg=squashfs.img", "/LiveOS/squashfs.img")]
    [InlineData("rd.live.image", "/rootfs.squashfs")]
    [InlineData("basalt.mode=live", "/rootfs.squashfs")]
    public void Live_from_the_medium(string text, string image)
    {
        var parameters = BootParameters.Parse(text);

        Assert.Equal(BootMode.Live, parameters.Mode);
        Assert.Equal(DeviceReference.Label("COS_LIVE"), parameters.ImageContainer);
        Assert.Equal(image, parameters.ImagePath);
        Assert.Equal(RootImageFormat.Squashfs, parameters.ImageFormat);
    }

    [Fact]
    public void Live_from_a_url()
    {
        var parameters = BootParameters.Parse("basalt.live.url=http://10.0.2.2:8080/rootfs.squashfs ip=dhcp");

        Assert.Equal(BootMode.Live, parameters.Mode);
        Assert.Null(parameters.ImageContainer);
        Assert.Equal(new Uri("http://10.0.2.2:8080/rootfs.squashfs"), parameters.LiveUrl);
    }

    [Theory]
    [InlineData("root=LABEL=COS_SYSTEM cos-img/filename=/cOS/recovery.img basalt.reset=unattended")]
    [InlineData("root=live:LABEL=COS_RECOVERY rd.live.squashimg=/cOS/recovery.squashfs kairos.reset")]
    public void Statereset_is_recovery_with_reset(string text)
    {
        var parameters = BootParameters.Parse(text);

        Assert.Equal(BootMode.Recovery, parameters.Mode);
        Assert.True(parameters.Reset);
    }

    [Fact]
    public void Uuid_and_device_roots_need_an_explicit_mode()
    {
        var parameters = BootParameters.Parse("root=UUID=0f3c basalt.mode=passive");

        Assert.Equal(BootMode.Passive, parameters.Mode);
        Assert.Equal(new DeviceReference(DeviceReferenceKind.Uuid, "0f3c"), parameters.Root);
        Assert.Equal("/cOS/passive.img", parameters.ImagePath);

        var error = Assert.Throws<InvalidBootCommandLineException>(() => BootParameters.Parse("root=/dev/vda3"));
        Assert.Contains("basalt.mode", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Immucore_keys_override_the_cos_ones()
    {
        var parameters = BootParameters.Parse("root=LABEL=COS_ACTIVE rd.cos.oemlabel=A rd.immucore.oemlabel=B rd.cos.oemtimeout=3 rd.immucore.oemtimeout=7 rd.immucore.sysrootwait=90 rd.cos.overlay=tmpfs:30% rd.immucore.debug rd.cos.debugrw");

        Assert.Equal("B", parameters.OemLabel);
        Assert.Equal(TimeSpan.FromSeconds(7), parameters.OemTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), parameters.DeviceTimeout);
        Assert.Equal("tmpfs:30%", parameters.OverlayBase);
        Assert.True(parameters.Debug);
        Assert.True(parameters.RootReadWrite);
    }

    [Fact]
    public void Custom_mounts_from_the_command_line()
    {
        var parameters = BootParameters.Parse("root=LABEL=COS_ACTIVE rd.cos.mount=LABEL=DATA:/var/lib/data rd.immucore.mount=UUID=1234:/srv/x");

        Assert.Equal(2, parameters.Mounts.Count);
        Assert.Equal(DeviceReference.Label("DATA"), parameters.Mounts[0].Device);
        Assert.Equal("/var/lib/data", parameters.Mounts[0].MountPoint);
        Assert.False(parameters.Mounts[0].ReadWrite);
        Assert.False(parameters.Mounts[0].Required);
        Assert.Equal("/srv/x", parameters.Mounts[1].MountPoint);
    }

    [Theory]
    [InlineData("quiet", "neither")]
    [InlineData("root=LABEL=COS_ACTIVE basalt.mode=passive", "contradicts")]
    [InlineData("root=LABEL=COS_ACTIVE cos-img/filename=/cOS/passive.img", "contradicts")]
    [InlineData("root=LABEL=COS_ACTIVE basalt.mode=sideways", "unknown boot mode")]
    [InlineData("root=LABEL=COS_ACTIVE basalt.mode=active basalt.mode=passive", "twice")]
    [InlineData("root=LABEL=COS_ACTIVE basalt.mod=active", "unknown Basalt key")]
    [InlineData("root=LABEL=COS_ACTIVE basalt.reset=unattended", "reset")]
    [InlineData("root=LABEL=COS_ACTIVE basalt.live.url=http://x/y", "only for live")]
    [InlineData("basalt.live.url=ftp://x/y", "http(s)")]
    [InlineData("root=live:CDLABEL=COS_LIVE basalt.live.url=http://x/y", "both")]
    [InlineData("root=live:nothing", "names no device")]
    [InlineData("root=LABEL=MYROOT", "does not tell")]
    [InlineData("root=LABEL=COS_ACTIVE rd.immucore.uki", "unified kernel image")]
    [InlineData("root=LABEL=COS_ACTIVE rd.cos.mount=/data", "DEVICE:/mountpoint")]
    [InlineData("root=LABEL=COS_ACTIVE rd.cos.overlay=ramdisk", "neither tmpfs")]
    [InlineData("root=LABEL=COS_ACTIVE cos-img/filename=active.img", "absolute")]
    [InlineData("root=LABEL=COS_ACTIVE rd.cos.oemtimeout=soon", "seconds")]
    public void Bad_command_lines_say_what_to_fix(string text, string expected)
    {
        var error = Assert.Throws<InvalidBootCommandLineException>(() => BootParameters.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(error.Hint));
        Assert.Equal("invalid-boot-cmdline", error.Kind);
    }
}
