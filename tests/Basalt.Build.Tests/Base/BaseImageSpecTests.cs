using Basalt.Build.Base;

namespace Basalt.Build.Tests.Base;

public sealed class BaseImageSpecTests
{
    private static readonly Uri Mirror = new("http://deb.debian.org/debian");

    [Fact]
    public void Equal_inputs_give_equal_cache_keys_whatever_the_package_order()
    {
        var first = new BaseImageSpec { Mirror = Mirror, Packages = ["a", "b"] };
        var second = new BaseImageSpec { Mirror = new Uri("http://deb.debian.org/debian/"), Packages = ["b", "a"] };

        Assert.Equal(first.CacheKey, second.CacheKey);
    }

    [Theory]
    [InlineData("trixie", "amd64", "x")]
    [InlineData("bookworm", "arm64", "x")]
    [InlineData("bookworm", "amd64", "y")]
    public void Any_changed_input_changes_the_cache_key(string suite, string architecture, string package)
    {
        var baseline = new BaseImageSpec { Mirror = Mirror, Packages = ["x"] };
        var changed = new BaseImageSpec { Mirror = Mirror, Suite = suite, Architecture = architecture, Packages = [package] };

        Assert.NotEqual(baseline.CacheKey, changed.CacheKey);
    }

    [Fact]
    public void Debootstrap_arguments_name_variant_packages_suite_target_and_mirror()
    {
        var spec = new BaseImageSpec { Mirror = Mirror };

        var arguments = spec.DebootstrapArguments("/tmp/root");

        Assert.Equal(
            ["--variant=minbase", "--arch=amd64", "--include=linux-image-amd64,systemd-sysv,udev,kmod", "bookworm", "/tmp/root", "http://deb.debian.org/debian"],
            arguments);
    }

    [Fact]
    public void The_rootfs_path_is_keyed_by_the_inputs()
    {
        var spec = new BaseImageSpec { Mirror = Mirror };

        Assert.Equal($"/c/base/bookworm-amd64-{spec.CacheKey}/rootfs", DebootstrapBaseBuilder.RootfsPath("/c", spec));
    }
}
