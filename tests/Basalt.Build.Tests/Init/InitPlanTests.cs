using Basalt.Build.Init;
using Basalt.Testing;

namespace Basalt.Build.Tests.Init;

public sealed class InitPlanTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private static InitPlan Plan(string root, string binary, InitOptions? options = null) =>
        new InitPlanner(() => Now).Plan((options ?? new InitOptions()) with { Root = root, BasaltBinary = binary, Architecture = "amd64", Version = "1.2.3" });

    [Fact]
    public void Debian_is_planned_with_apt_and_every_missing_package_including_the_kernel()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        var plan = Plan(root, InitTestRoots.FakeBinary(temp.Path));

        Assert.Equal(DistroFamily.Debian, plan.Distro.Family);
        Assert.Equal("debian", plan.Distro.Id);
        Assert.False(plan.InPlace);
        Assert.Equal("linux-image-amd64", plan.Packages.Missing[0]);
        Assert.Contains("grub-efi-amd64-bin", plan.Packages.Missing);
        Assert.Contains("busybox", plan.Packages.Missing);
        Assert.Equal(["apt-get", "update"], plan.PackageCommands[0].Arguments);
        Assert.Equal("apt-get", plan.PackageCommands[1].Arguments[0]);
        Assert.Contains("--no-install-recommends", plan.PackageCommands[1].Arguments);
        Assert.Contains("linux-image-amd64", plan.PackageCommands[1].Arguments);
    }

    [Fact]
    public void Only_the_missing_packages_are_installed_and_a_present_kernel_is_not_asked_for()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, ["systemd", "udev", "busybox", "e2fsprogs"], kernel: true);
        var plan = Plan(root, InitTestRoots.FakeBinary(temp.Path));

        Assert.DoesNotContain(plan.Packages.Required, p => p.StartsWith("linux-image", StringComparison.Ordinal));
        Assert.DoesNotContain("systemd", plan.Packages.Missing);
        Assert.DoesNotContain("busybox", plan.Packages.Missing);
        Assert.Contains("initramfs-tools", plan.Packages.Missing);
        Assert.Contains("systemd", plan.Packages.Required);
    }

    [Fact]
    public void Nothing_is_installed_when_everything_is_present()
    {
        using var temp = new TempDirectory("init-plan");
        var everything = AptPackageManager.BasePackages.Append("grub-efi-amd64-bin");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, everything, kernel: true);
        var plan = Plan(root, InitTestRoots.FakeBinary(temp.Path));

        Assert.Empty(plan.Packages.Missing);
        Assert.Empty(plan.PackageCommands);
    }

    [Fact]
    public void Ubuntu_is_apt_with_the_generic_kernel()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Ubuntu);
        var plan = Plan(root, InitTestRoots.FakeBinary(temp.Path));

        Assert.Equal(DistroFamily.Debian, plan.Distro.Family);
        Assert.Contains("linux-image-generic", plan.Packages.Missing);
    }

    [Fact]
    public void Fedora_is_told_apart_and_refused_with_a_typed_error()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Fedora);
        var error = Assert.Throws<PackageManagerNotSupportedException>(() => Plan(root, InitTestRoots.FakeBinary(temp.Path)));
        Assert.Equal(DistroFamily.Fedora, error.Family);
        Assert.Equal("dnf", error.PackageManager);
        Assert.Equal("package-manager-not-supported", error.Kind);
    }

    [Fact]
    public void Alpine_is_told_apart_and_refused_with_a_typed_error()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Alpine, osReleaseLink: false);
        var error = Assert.Throws<PackageManagerNotSupportedException>(() => Plan(root, InitTestRoots.FakeBinary(temp.Path)));
        Assert.Equal(DistroFamily.Alpine, error.Family);
    }

    [Fact]
    public void A_root_without_os_release_is_a_typed_error()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, osRelease: null);
        var error = Assert.Throws<OsReleaseMissingException>(() => Plan(root, InitTestRoots.FakeBinary(temp.Path)));
        Assert.Equal("os-release-missing", error.Kind);
        Assert.NotNull(error.Hint);
    }

    [Fact]
    public void A_missing_root_or_binary_is_a_typed_error()
    {
        using var temp = new TempDirectory("init-plan");
        Assert.Throws<InitRootNotFoundException>(() => Plan(temp.Combine("nope"), InitTestRoots.FakeBinary(temp.Path)));
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        Assert.Throws<BasaltBinaryNotFoundException>(() => Plan(root, temp.Combine("no-binary")));
    }

    [Theory]
    [InlineData("ID=rocky\nID_LIKE=\"rhel centos fedora\"\n", DistroFamily.Fedora)]
    [InlineData("ID=almalinux\nID_LIKE=\"rhel centos fedora\"\n", DistroFamily.Fedora)]
    [InlineData("ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", DistroFamily.Suse)]
    [InlineData("ID=sles\n", DistroFamily.Suse)]
    [InlineData("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", DistroFamily.Debian)]
    [InlineData("ID=alpine\n", DistroFamily.Alpine)]
    public void Families_are_detected_from_id_and_id_like(string osRelease, DistroFamily family) =>
        Assert.Equal(family, Distro.Detect(OsRelease.Parse(osRelease)).Family);

    [Fact]
    public void An_unknown_distribution_is_a_typed_error()
    {
        var error = Assert.Throws<UnsupportedDistroException>(() => Distro.Detect(OsRelease.Parse("ID=gentoo\n")));
        Assert.Equal("gentoo", error.Id);
    }

    [Fact]
    public void The_plan_prints_what_it_will_do()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        var text = Plan(root, InitTestRoots.FakeBinary(temp.Path)).Describe();

        Assert.Contains("Debian GNU/Linux 12 (bookworm) [Debian, amd64]", text, StringComparison.Ordinal);
        Assert.Contains("run: apt-get update", text, StringComparison.Ordinal);
        Assert.Contains("file: /etc/initramfs-tools/scripts/basalt", text, StringComparison.Ordinal);
        Assert.Contains("enable: systemd-networkd.service basalt-boot-complete.service", text, StringComparison.Ordinal);
        Assert.Contains("root password: locked", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Os_release_is_merged_where_the_link_points_keeping_the_distribution_keys()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        var plan = Plan(root, InitTestRoots.FakeBinary(temp.Path), new InitOptions { ImageReference = "registry.local/os:v1" });
        var file = Assert.Single(plan.Files, f => f.Path.EndsWith("os-release", StringComparison.Ordinal));

        Assert.Equal("/usr/lib/os-release", file.Path);
        var merged = OsRelease.Parse(file.Content);
        Assert.Equal("debian", merged.Id);
        Assert.Equal("Debian GNU/Linux 12 (bookworm)", merged.PrettyName);
        Assert.Equal("1.2.3", merged.Get("BASALT_VERSION"));
        Assert.Equal("registry.local/os:v1", merged.Get("BASALT_IMAGE_REF"));
        Assert.Equal("2026-03-04T05:06:07Z", merged.Get("BASALT_BUILD_DATE"));
        Assert.StartsWith("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", file.Content, StringComparison.Ordinal);
    }

    [Fact]
    public void The_boot_time_recovery_unit_is_written_and_enabled()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        var plan = Plan(root, InitTestRoots.FakeBinary(temp.Path));

        var unit = Assert.Single(plan.Files, f => f.Path == $"{InitFiles.UnitDirectory}/{InitFiles.RecoverUnit}");
        Assert.Equal(InitFiles.RecoverService(), unit.Content);
        Assert.Contains(InitFiles.RecoverUnit, plan.UnitsToEnable);
    }

    [Fact]
    public void A_resolved_unit_in_the_image_is_enabled_too()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        Assert.DoesNotContain("systemd-resolved.service", Plan(root, InitTestRoots.FakeBinary(temp.Path)).UnitsToEnable);
        File.WriteAllText(Path.Combine(root, "usr/lib/systemd/system/systemd-resolved.service"), "[Install]\nWantedBy=multi-user.target\n");
        Assert.Contains("systemd-resolved.service", Plan(root, InitTestRoots.FakeBinary(temp.Path)).UnitsToEnable);
    }

    [Fact]
    public void A_framework_dependent_launcher_is_refused_as_the_basalt_binary()
    {
        using var temp = new TempDirectory("init-plan");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian);
        var launcher = InitTestRoots.FakeBinary(temp.Path);
        File.WriteAllText(launcher + ".dll", "managed code");
        File.WriteAllText(launcher + ".runtimeconfig.json", "{}");
        Assert.Throws<BasaltBinaryNotSelfContainedException>(() => Plan(root, launcher));
    }
}
