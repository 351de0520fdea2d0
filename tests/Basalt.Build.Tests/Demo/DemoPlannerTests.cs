using System.Net;
using System.Net.Sockets;
using Basalt.Build.Demo;
using Basalt.Oci.Registry;

namespace Basalt.Build.Tests.Demo;

public sealed class DemoPlannerTests
{
    private static readonly DemoHost ReadyRoot = new(IsRoot: true, InputIsTerminal: false, MissingRequirements: []);

    private static DemoOptions Options(string? osTree = null, bool quick = false) => new()
    {
        WorkDirectory = "/w/demo",
        CacheDirectory = "/c",
        OsTree = osTree,
        Quick = quick,
    };

    private static DemoPlan Plan(DemoOptions options, DemoHost? host = null, bool osTreeValid = true, bool portFree = true) =>
        DemoPlanner.Plan(options, host ?? ReadyRoot, _ => osTreeValid, _ => portFree);

    [Fact]
    public void The_full_demo_runs_every_phase_in_order_on_its_own_cached_tree()
    {
        var plan = Plan(Options());

        Assert.Equal(Enum.GetValues<DemoStep>(), plan.Phases.Select(phase => phase.Step));
        Assert.All(plan.Phases, phase => Assert.False(phase.Skipped));
        Assert.True(plan.OwnsOsTree);
        Assert.Equal("/c/demo/os/rootfs", plan.OsTreeDirectory);
        Assert.Equal("/c/build", plan.BaseCacheDirectory);
        Assert.Equal("/c/demo/os/node", plan.PersistentContentDirectory);
        Assert.Equal("/c/demo/os/disk", plan.DiskCacheDirectory);
        Assert.StartsWith("/w/demo/", plan.DiskPath, StringComparison.Ordinal);
        Assert.StartsWith("/w/demo/", plan.RegistryDirectory, StringComparison.Ordinal);
        Assert.Empty(plan.PackagesToInstall);
    }

    [Fact]
    public void A_given_os_tree_skips_the_base_and_init_and_is_used_where_it_is()
    {
        var plan = Plan(Options(osTree: "/trees/os", quick: true));

        Assert.False(plan.Runs(DemoStep.Base));
        Assert.False(plan.Runs(DemoStep.Init));
        Assert.Equal("--os-tree given", plan.Phases.Single(phase => phase.Step == DemoStep.Base).SkippedBecause);
        foreach (var step in new[] { DemoStep.Registry, DemoStep.PushV1, DemoStep.PushV2, DemoStep.Disk, DemoStep.BootV1, DemoStep.Upgrade, DemoStep.RebootV2, DemoStep.PowerOff })
        {
            Assert.True(plan.Runs(step), $"--quick still runs {step}");
        }

        Assert.Equal("/trees/os", plan.OsTreeDirectory);
        Assert.False(plan.OwnsOsTree);
        Assert.Equal("/w/demo/persistent", plan.PersistentContentDirectory);
        Assert.Null(plan.DiskCacheDirectory);
        Assert.Contains("(skipped: --os-tree given)", plan.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Quick_without_an_os_tree_is_refused()
    {
        var error = Assert.Throws<DemoOptionException>(() => Plan(Options(quick: true)));
        Assert.Contains("--quick needs --os-tree", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_os_tree_that_init_did_not_make_is_refused_by_name()
    {
        var error = Assert.Throws<DemoOsTreeInvalidException>(() => Plan(Options(osTree: "/not/a/tree"), osTreeValid: false));
        Assert.Contains("/not/a/tree", error.Message, StringComparison.Ordinal);
        Assert.Equal("not-an-os-tree", error.Kind);
    }

    [Fact]
    public void A_real_directory_without_basalt_kernel_and_initrd_is_not_an_os_tree()
    {
        var directory = Directory.CreateTempSubdirectory("basalt-demo-tree").FullName;
        try
        {
            Assert.False(DemoOsTree.IsOsTree(directory));
            Directory.CreateDirectory(Path.Combine(directory, "usr", "bin"));
            Directory.CreateDirectory(Path.Combine(directory, "boot"));
            foreach (var file in new[] { "usr/bin/basalt", "boot/vmlinuz-6.1", "boot/initrd" })
            {
                File.WriteAllText(Path.Combine(directory, file), "x");
            }

            Assert.False(DemoOsTree.IsOsTree(directory));
            File.CreateSymbolicLink(Path.Combine(directory, "boot", "vmlinuz"), "vmlinuz-6.1");
            Assert.True(DemoOsTree.IsOsTree(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Missing_packages_are_installed_without_a_question_when_root_and_not_on_a_terminal()
    {
        var missing = new[] { new HostRequirement("qemu-system-x86", Tool: "qemu-system-x86_64"), new HostRequirement("ovmf", FilePath: "/usr/share/OVMF/OVMF_CODE_4M.fd") };
        var plan = Plan(Options(), ReadyRoot with { MissingRequirements = missing });

        Assert.Equal(["ovmf", "qemu-system-x86"], plan.PackagesToInstall);
        Assert.Contains("install ovmf qemu-system-x86 (apt-get)", plan.Phases[0].Title, StringComparison.Ordinal);
    }

    [Fact]
    public void On_a_terminal_missing_packages_need_yes()
    {
        var missing = new[] { new HostRequirement("docker-registry", Tool: "docker-registry") };
        var host = new DemoHost(IsRoot: true, InputIsTerminal: true, missing);

        var error = Assert.Throws<DemoPackagesMissingException>(() => Plan(Options(), host));
        Assert.Equal(["docker-registry"], error.MissingPackages);
        Assert.Contains("docker-registry", error.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y docker-registry", error.Hint, StringComparison.Ordinal);
        Assert.Contains("--yes", error.Message, StringComparison.Ordinal);

        var plan = Plan(Options() with { AssumeYes = true }, host);
        Assert.Equal(["docker-registry"], plan.PackagesToInstall);
    }

    [Fact]
    public void Without_root_a_missing_tool_is_named_and_nothing_is_installed()
    {
        var missing = new[] { new HostRequirement("debootstrap", Tool: "debootstrap") };
        var error = Assert.Throws<DemoPackagesMissingException>(() => Plan(Options() with { AssumeYes = true }, new DemoHost(false, false, missing)));
        Assert.Contains("debootstrap", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs root", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quick_installs_nothing()
    {
        var missing = new[] { new HostRequirement("qemu-system-x86", Tool: "qemu-system-x86_64") };
        var error = Assert.Throws<DemoPackagesMissingException>(() => Plan(Options("/t", quick: true), ReadyRoot with { MissingRequirements = missing }));
        Assert.Contains("--quick installs nothing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_root_the_demo_is_refused_even_with_every_package_there()
    {
        Assert.Throws<DemoRequiresRootException>(() => Plan(Options(), new DemoHost(false, false, [])));
    }

    [Fact]
    public void A_registry_port_in_use_is_refused_before_anything_starts()
    {
        var error = Assert.Throws<RegistryPortInUseException>(() => Plan(Options() with { RegistryPort = 5000 }, portFree: false));
        Assert.Equal(5000, error.Port);
        Assert.Contains("127.0.0.1:5000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_something_listens_on_is_not_free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        Assert.False(LocalRegistry.IsFree(port));
        Assert.Throws<RegistryPortInUseException>(() => DemoPlanner.Plan(Options() with { RegistryPort = port }, ReadyRoot, _ => true, LocalRegistry.IsFree));
        listener.Stop();
        Assert.True(LocalRegistry.IsFree(port));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(70000)]
    public void A_registry_port_out_of_range_is_refused(int port)
    {
        Assert.Throws<DemoOptionException>(() => Plan(Options() with { RegistryPort = port }));
    }

    [Fact]
    public void A_disk_too_small_for_the_upgrade_is_refused()
    {
        var error = Assert.Throws<DemoOptionException>(() => Plan(Options() with { DiskBytes = 2L << 30 }));
        Assert.Contains("cannot hold the upgrade", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_requirements_name_the_base_builder_only_when_the_demo_makes_its_tree()
    {
        Assert.Contains(DemoRequirements.For(ownOsTree: true), r => r.Tool == "debootstrap");
        var quick = DemoRequirements.For(ownOsTree: false);
        Assert.DoesNotContain(quick, r => r.Tool == "debootstrap");
        Assert.Contains(quick, r => r.Tool == "docker-registry" && r.Package == "docker-registry");
        Assert.Contains(quick, r => r.Tool == "qemu-system-x86_64" && r.Package == "qemu-system-x86");
        Assert.Contains(quick, r => r.Tool == "mkfs.ext4" && r.Package == "e2fsprogs");
        Assert.Contains(quick, r => r.FilePath == "/usr/share/OVMF/OVMF_CODE_4M.fd" && r.Package == "ovmf");
    }

    [Fact]
    public void Missing_requirements_are_found_with_the_given_probes()
    {
        var requirements = new[]
        {
            new HostRequirement("a", Tool: "tool-a"),
            new HostRequirement("b", Tool: "tool-b"),
            new HostRequirement("c", FilePath: "/file-c"),
        };

        var missing = DemoRequirements.Missing(requirements, tool => tool == "tool-a", path => false);

        Assert.Equal(["b", "c"], missing.Select(m => m.Package));
    }

    [Fact]
    public void Packages_are_installed_by_apt_get_without_a_question()
    {
        Assert.Empty(DemoRequirements.InstallCommands([]));
        var commands = DemoRequirements.InstallCommands(["ovmf", "qemu-utils"]);

        Assert.Equal(2, commands.Count);
        Assert.Equal("apt-get update", commands[0].CommandLine);
        Assert.Contains("install -y --no-install-recommends", commands[1].CommandLine, StringComparison.Ordinal);
        Assert.EndsWith("ovmf qemu-utils", commands[1].CommandLine, StringComparison.Ordinal);
        Assert.All(commands, command => Assert.Equal("noninteractive", command.Environment!["DEBIAN_FRONTEND"]));
    }

    [Fact]
    public void The_cached_tree_is_stamped_with_the_binary_and_the_password()
    {
        var binary = Path.GetTempFileName();
        try
        {
            File.WriteAllText(binary, "basalt 1");
            var first = DemoOsTree.Stamp(binary, "basalt");
            Assert.Equal(first, DemoOsTree.Stamp(binary, "basalt"));
            Assert.NotEqual(first, DemoOsTree.Stamp(binary, "other"));
            File.WriteAllText(binary, "basalt 2");
            Assert.NotEqual(first, DemoOsTree.Stamp(binary, "basalt"));
            Assert.StartsWith("$6$basaltdemo$", DemoOsTree.PasswordHash("basalt"), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(binary);
        }
    }
}
