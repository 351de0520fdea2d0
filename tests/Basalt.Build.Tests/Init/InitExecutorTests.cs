using Basalt.Build.Init;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Init;

public sealed class InitExecutorTests
{
    private static readonly string[] AllPackages = [.. AptPackageManager.BasePackages, "grub-efi-amd64-bin"];

    /// <summary>Stands in for mount/umount/chroot: records the calls and makes mkinitramfs's output file.</summary>
    private sealed class FakeTools(string root) : IToolRunner
    {
        public List<ToolInvocation> Calls { get; } = [];

        public string? Locate(string tool) => "/usr/bin/" + tool;

        public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
        {
            Calls.Add(invocation);
            if (invocation.Tool == "chroot" && invocation.Arguments[1] == "mkinitramfs")
            {
                File.WriteAllText(Path.Combine(root, invocation.Arguments[3].TrimStart('/')), "initrd for " + invocation.Arguments[4]);
            }

            return Task.FromResult(new ToolResult(0, string.Empty, string.Empty, TimeSpan.Zero));
        }
    }

    private static (InitPlan Plan, FakeTools Tools, InitExecutor Executor) Prepare(string root, string binary)
    {
        var plan = new InitPlanner(() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
            .Plan(new InitOptions { Root = root, BasaltBinary = binary, Architecture = "amd64", Version = "1.0.0" });
        var tools = new FakeTools(root);
        return (plan, tools, new InitExecutor(tools, privileged: true));
    }

    [Fact]
    public async Task The_read_only_root_carries_every_mount_point_the_mounter_uses_outside_the_overlays()
    {
        using var temp = new TempDirectory("init-mountpoints");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, AllPackages, kernel: true);
        var (plan, _, executor) = Prepare(root, InitTestRoots.FakeBinary(temp.Path));

        Assert.Subset(plan.MountPoints.ToHashSet(), new HashSet<string> { "/oem", "/usr/local", "/home", "/root", "/opt", "/usr/libexec" });
        Assert.DoesNotContain(plan.MountPoints, path => path.StartsWith("/etc/", StringComparison.Ordinal) || path.StartsWith("/var/", StringComparison.Ordinal));

        var result = await executor.ExecuteAsync(plan);

        Assert.All(plan.MountPoints, path => Assert.True(Directory.Exists(Path.Combine(root, path.TrimStart('/'))), path));
        Assert.Contains("created mount point /oem", result.Changes);
        var again = await executor.ExecuteAsync(plan);
        Assert.DoesNotContain(again.Changes, change => change.StartsWith("created mount point", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_file_steps_make_a_basalt_tree()
    {
        using var temp = new TempDirectory("init-exec");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, AllPackages, kernel: true);
        var (plan, tools, executor) = Prepare(root, InitTestRoots.FakeBinary(temp.Path));

        var result = await executor.ExecuteAsync(plan);

        Assert.Equal("6.1.0-50-amd64", result.KernelVersion);
        Assert.Equal("vmlinuz-6.1.0-50-amd64", new FileInfo(Path.Combine(root, "boot/vmlinuz")).LinkTarget);
        Assert.Equal("initrd for 6.1.0-50-amd64", File.ReadAllText(Path.Combine(root, "boot/initrd")));
        Assert.Equal(File.ReadAllText(InitTestRoots.FakeBinary(temp.Path)), File.ReadAllText(Path.Combine(root, "usr/bin/basalt")));
        Assert.Equal(InitFiles.WiredNetwork(), File.ReadAllText(Path.Combine(root, "etc/systemd/network/90-basalt-wired.network")));
        Assert.Equal(InitFiles.InitramfsBootScript(), File.ReadAllText(Path.Combine(root, "etc/initramfs-tools/scripts/basalt")));
        Assert.True(File.GetUnixFileMode(Path.Combine(root, "etc/initramfs-tools/hooks/basalt")).HasFlag(UnixFileMode.UserExecute));
        Assert.Equal(string.Empty, File.ReadAllText(Path.Combine(root, "etc/machine-id")));
        Assert.Equal(InitFiles.GrubMenu(), File.ReadAllText(Path.Combine(root, "etc/cos/grub.cfg")));
        Assert.Equal(InitFiles.GrubBootArguments(), File.ReadAllText(Path.Combine(root, "etc/cos/bootargs.cfg")));
        Assert.StartsWith("root:!$6$", File.ReadAllText(Path.Combine(root, "etc/shadow")), StringComparison.Ordinal);
        Assert.Equal("1.0.0", OsRelease.Parse(File.ReadAllText(Path.Combine(root, "usr/lib/os-release"))).Get("BASALT_VERSION"));
        Assert.Equal("../usr/lib/os-release", new FileInfo(Path.Combine(root, "etc/os-release")).LinkTarget);

        // systemctl enable, done by links: WantedBy, Also= and Alias=.
        Assert.Equal("/usr/lib/systemd/system/systemd-networkd.service", new FileInfo(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/systemd-networkd.service")).LinkTarget);
        Assert.Equal("/usr/lib/systemd/system/systemd-networkd.socket", new FileInfo(Path.Combine(root, "etc/systemd/system/sockets.target.wants/systemd-networkd.socket")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system/dbus-org.freedesktop.network1.service")));
        Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/basalt-boot-complete.service")));
        Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system/sysinit.target.wants/basalt-stage-fs.service")));
        Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system/timers.target.wants/basalt-reconcile.timer")));

        // Nothing to install: mkinitramfs ran in a chroot with the kernel filesystems mounted and released.
        Assert.DoesNotContain(tools.Calls, c => c.Arguments.Contains("apt-get"));
        Assert.Equal(4, tools.Calls.Count(c => c.Tool == "mount"));
        Assert.Equal(4, tools.Calls.Count(c => c.Tool == "umount"));
        Assert.Equal(["chroot", root, "mkinitramfs", "-o", "/boot/.initrd.basalt-new", "6.1.0-50-amd64"], tools.Calls.Single(c => c.Tool == "chroot").CommandLine.Split(' '));
        Assert.False(File.Exists(Path.Combine(root, "usr/sbin/policy-rc.d")));
    }

    [Fact]
    public async Task A_second_run_changes_nothing()
    {
        using var temp = new TempDirectory("init-exec");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, AllPackages, kernel: true);
        var binary = InitTestRoots.FakeBinary(temp.Path);
        var (plan, _, executor) = Prepare(root, binary);
        var first = await executor.ExecuteAsync(plan);
        Assert.NotEmpty(first.Changes);
        var before = TreeSnapshot.Capture(root);

        // Plan again from the changed tree, as a second `basalt init` would (no build date given).
        var (secondPlan, tools, secondExecutor) = Prepare(root, binary);
        var secondPlanNoDate = new InitPlanner(() => new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero))
            .Plan(new InitOptions { Root = root, BasaltBinary = binary, Architecture = "amd64", Version = "1.0.0" });
        Assert.Equal(secondPlan.Files, secondPlanNoDate.Files);
        var second = await secondExecutor.ExecuteAsync(secondPlanNoDate);

        Assert.Empty(second.Changes);
        Assert.Empty(tools.Calls);
        TreeSnapshot.AssertEqual(before, TreeSnapshot.Capture(root));
    }

    [Fact]
    public async Task A_new_kernel_moves_the_link_and_rebuilds_the_initramfs()
    {
        using var temp = new TempDirectory("init-exec");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, AllPackages, kernel: true);
        var binary = InitTestRoots.FakeBinary(temp.Path);
        var (plan, _, executor) = Prepare(root, binary);
        await executor.ExecuteAsync(plan);

        InitTestRoots.AddKernel(root, "6.1.0-100-amd64");
        var (again, _, secondExecutor) = Prepare(root, binary);
        var result = await secondExecutor.ExecuteAsync(again);

        Assert.Equal("6.1.0-100-amd64", result.KernelVersion);
        Assert.Equal("vmlinuz-6.1.0-100-amd64", new FileInfo(Path.Combine(root, "boot/vmlinuz")).LinkTarget);
        Assert.Equal("initrd for 6.1.0-100-amd64", File.ReadAllText(Path.Combine(root, "boot/initrd")));
    }

    [Fact]
    public async Task A_tree_without_a_kernel_fails_with_a_typed_error()
    {
        using var temp = new TempDirectory("init-exec");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, AllPackages, kernel: false);
        var plan = new InitPlanner().Plan(new InitOptions { Root = root, BasaltBinary = InitTestRoots.FakeBinary(temp.Path), Architecture = "amd64", InstallPackages = false });
        await Assert.ThrowsAsync<KernelNotFoundException>(() => new InitExecutor(new FakeTools(root), privileged: true).ExecuteAsync(plan));
    }

    [Fact]
    public async Task Package_installation_runs_apt_in_the_chroot_and_releases_everything()
    {
        using var temp = new TempDirectory("init-exec");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, ["systemd"], kernel: true);
        var (plan, tools, executor) = Prepare(root, InitTestRoots.FakeBinary(temp.Path));

        await executor.ExecuteAsync(plan);

        var apt = tools.Calls.Where(c => c.Tool == "chroot" && c.Arguments[1] == "apt-get").ToList();
        Assert.Equal(3, apt.Count);
        Assert.Equal("noninteractive", apt[1].Environment!["DEBIAN_FRONTEND"]);
        // The host's TMPDIR is a host path; inside the root, maintainer scripts get the root's /tmp.
        Assert.All(apt, call => Assert.Equal("/tmp", call.Environment!["TMPDIR"]));
        Assert.Equal(tools.Calls.Count(c => c.Tool == "mount"), tools.Calls.Count(c => c.Tool == "umount"));
        Assert.False(File.Exists(Path.Combine(root, "usr/sbin/policy-rc.d")));
    }

    [Fact]
    public async Task Writing_through_a_link_that_points_out_of_the_root_stays_in_the_root()
    {
        using var temp = new TempDirectory("init-exec");
        var root = InitTestRoots.Create(temp.Path, InitTestRoots.Debian, AllPackages, kernel: true);
        var outside = temp.Combine("outside");
        Directory.CreateDirectory(outside);
        // An absolute link in the image means the image's path, never the host's.
        File.CreateSymbolicLink(Path.Combine(root, "etc", "fstab"), outside + "/fstab");
        var (plan, _, executor) = Prepare(root, InitTestRoots.FakeBinary(temp.Path));

        await executor.ExecuteAsync(plan);

        Assert.False(File.Exists(Path.Combine(outside, "fstab")));
        Assert.True(File.Exists(Path.Combine(root, outside.TrimStart('/'), "fstab")));
    }
}
