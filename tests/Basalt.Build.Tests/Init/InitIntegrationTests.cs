using Basalt.Build.Base;
using Basalt.Build.Init;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Init;

/// <summary>
/// A Debian rootfs for the integration tests, made once per test run: a copy of the developer cache
/// (/var/cache/basalt-dev/rootfs) when present, else a debootstrap into the build cache (≈3 min).
/// The copy is the tests' to change; the source is never touched.
/// </summary>
public sealed class DebianRootfsFixture : IAsyncLifetime
{
    public const string DeveloperCache = "/var/cache/basalt-dev/rootfs";

    private readonly SemaphoreSlim _initLock = new(1, 1);
    private TempDirectory? _directory;
    private (InitPlan Plan, InitResult Result)? _init;

    public string Root => Path.Combine(_directory!.Path, "rootfs");

    public string Directory => _directory!.Path;

    public async Task InitializeAsync()
    {
        if (!Posix.IsRoot)
        {
            return; // the tests report the missing precondition themselves
        }

        _directory = new TempDirectory("init-rootfs");
        var tools = new ToolRunner();
        var source = DeveloperCache;
        if (!System.IO.Directory.Exists(source))
        {
            var cache = Environment.GetEnvironmentVariable("BASALT_TEST_CACHE") ?? "/var/cache/basalt-test";
            var mirror = AptSources.FindDebianMirror(AptSources.Read(), BaseImageSpec.DefaultSuite) ?? new Uri("http://deb.debian.org/debian");
            source = (await new DebootstrapBaseBuilder(tools).BuildAsync(new BaseImageSpec { Mirror = mirror }, cache)).Path;
        }

        await tools.RunAsync(new ToolInvocation("cp", ["-a", "--reflink=auto", source, Root]));
    }

    /// <summary>The options the shared init run uses.</summary>
    public static InitOptions InitOptionsFor(string root) =>
        new() { Root = root, BasaltBinary = "/usr/bin/true", Version = "9.9.9", ImageReference = "registry.test/basalt/os:1" };

    /// <summary>Runs init over <see cref="Root"/> once (it installs packages: minutes); later callers get the same result.</summary>
    public async Task<(InitPlan Plan, InitResult Result)> InitializeRootAsync()
    {
        await _initLock.WaitAsync();
        try
        {
            if (_init is null)
            {
                var plan = new InitPlanner().Plan(InitOptionsFor(Root));
                _init = (plan, await new InitExecutor(new ToolRunner()).ExecuteAsync(plan));
            }

            return _init.Value;
        }
        finally
        {
            _initLock.Release();
        }
    }

    public async Task DisposeAsync()
    {
        _initLock.Dispose();
        if (_directory is null)
        {
            return;
        }

        // Never recurse into a mount a failed test might have left.
        await new ToolRunner().RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", _directory.Path]));
        _directory.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DebianRootfsCollection : ICollectionFixture<DebianRootfsFixture>
{
    public const string Name = "debian-rootfs";
}

[Collection(DebianRootfsCollection.Name)]
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class InitIntegrationTests(DebianRootfsFixture fixture)
{
    [Fact]
    public async Task Init_turns_a_debian_rootfs_into_a_basalt_tree_and_a_second_run_changes_nothing()
    {
        Requires.Root();
        Requires.Tool("chroot", "coreutils");
        Requires.Tool("mount", "mount");
        Requires.Tool("true", "coreutils"); // /usr/bin/true, a dynamic executable, stands in for basalt
        var root = fixture.Root;
        var tools = new ToolRunner();
        var options = DebianRootfsFixture.InitOptionsFor(root);

        InitResult first;
        try
        {
            var (plan, result) = await fixture.InitializeRootAsync();
            Assert.Contains("busybox", plan.Packages.Missing);
            first = result;
        }
        finally
        {
            Assert.Empty(ChrootSession.MountPointsUnder(root));
        }

        Assert.NotEmpty(first.Changes);
        Assert.True(File.Exists(Path.Combine(root, "boot", "vmlinuz")));
        Assert.Equal($"vmlinuz-{first.KernelVersion}", new FileInfo(Path.Combine(root, "boot", "vmlinuz")).LinkTarget);
        Assert.True(new FileInfo(Path.Combine(root, "boot", "initrd")).Length > 1_000_000);
        var installed = AptPackageManager.InstalledPackages(root);
        Assert.Contains("busybox", installed);
        Assert.Contains("grub-efi-amd64-bin", installed);
        Assert.Empty(System.IO.Directory.EnumerateFiles(Path.Combine(root, "var", "lib", "apt", "lists"), "*_*"));
        Assert.False(File.Exists(Path.Combine(root, "usr", "sbin", "policy-rc.d")));

        var listing = (await tools.RunAsync(new ToolInvocation("chroot", [root, "lsinitramfs", "/boot/initrd"]))).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("usr/bin/basalt", listing);
        Assert.Contains("scripts/basalt", listing);
        // The mounter runs util-linux's tools, not busybox's applets of the same names.
        foreach (var tool in new[] { "losetup", "mount", "blkid" })
        {
            Assert.Contains(InitFiles.MounterToolsDirectory.TrimStart('/') + "/" + tool, listing);
        }

        Assert.Contains(listing, entry => entry is "bin/busybox" or "usr/bin/busybox");
        Assert.Contains(listing, entry => entry.EndsWith("/squashfs.ko", StringComparison.Ordinal) || entry.EndsWith("/loop.ko", StringComparison.Ordinal));

        Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/systemd-networkd.service")));
        Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/basalt-boot-complete.service")));
        Assert.True(File.Exists(Path.Combine(root, "usr/lib/systemd/system/basalt-stage-network.service")));
        var osRelease = OsRelease.Parse(File.ReadAllText(Path.Combine(root, "etc", "os-release")));
        Assert.Equal("debian", osRelease.Id);
        Assert.Equal("9.9.9", osRelease.Get("BASALT_VERSION"));
        Assert.Equal("registry.test/basalt/os:1", osRelease.Get("BASALT_IMAGE_REF"));
        Assert.NotNull(osRelease.Get("BASALT_BUILD_DATE"));
        Assert.Equal(0, new FileInfo(Path.Combine(root, "etc", "machine-id")).Length);

        var second = await new InitExecutor(tools).ExecuteAsync(new InitPlanner().Plan(options));
        Assert.Empty(second.Changes);
        Assert.Empty(ChrootSession.MountPointsUnder(root));
    }
}
