using Basalt.Boot.CommandLine;
using Basalt.Build.Artifacts;
using Basalt.Testing;

namespace Basalt.Build.Tests.Artifacts;

public sealed class NetbootArtifactPlannerTests : IDisposable
{
    private readonly TempDirectory _temp = new("netboot-plan");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void The_command_line_boots_live_from_the_served_squashfs_with_dhcp_in_the_initramfs()
    {
        var plan = NetbootArtifactPlanner.Plan(new NetbootArtifactOptions { RootDirectory = ArtifactTestTrees.Create(_temp.Path), OutputDirectory = _temp.Combine("netboot") });

        var line = NetbootArtifactPlan.CommandLineFor(plan.KernelArguments, new Uri("http://10.0.2.2:8080/"));
        var parameters = BootParameters.Parse(line);
        Assert.Equal(BootMode.Live, parameters.Mode);
        Assert.Equal(new Uri("http://10.0.2.2:8080/rootfs.squashfs"), parameters.LiveUrl);
        Assert.Contains("ip=dhcp", plan.KernelArguments);
        Assert.Contains("boot=basalt", plan.KernelArguments);
        var script = NetbootArtifactPlan.IpxeScript(plan.KernelArguments, new Uri("http://10.0.2.2:8080/"));
        Assert.Contains("initrd http://10.0.2.2:8080/initrd\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void A_served_cloud_config_reaches_the_node_as_config_url_which_the_mounter_accepts_and_the_collector_follows()
    {
        var plan = NetbootArtifactPlanner.Plan(new NetbootArtifactOptions { RootDirectory = ArtifactTestTrees.Create(_temp.Path), OutputDirectory = _temp.Combine("netboot") });

        var line = NetbootArtifactPlan.CommandLineFor(plan.KernelArguments, new Uri("http://10.0.2.2:8080/"), new Uri("http://10.0.2.2:8080/cloud-config.yaml"));
        Assert.Equal(new Uri("http://10.0.2.2:8080/rootfs.squashfs"), BootParameters.Parse(line).LiveUrl);
        var config = Basalt.Config.Collection.KernelCommandLine.Parse(line);
        Assert.Equal("http://10.0.2.2:8080/cloud-config.yaml", config.Root["config_url"]?.GetValue<string>());
        Assert.DoesNotContain("config_url", NetbootArtifactPlan.CommandLineFor(plan.KernelArguments, new Uri("http://10.0.2.2:8080/")), StringComparison.Ordinal);
    }

    [Fact]
    public void Files_the_caller_adds_go_into_the_directory_and_none_may_replace_what_the_build_writes()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var slots = _temp.Combine("slots.json");
        File.WriteAllText(slots, "{}");
        NetbootArtifactOptions Options(string target) => new() { RootDirectory = root, OutputDirectory = _temp.Combine("netboot"), MediumFiles = [new DiskContentFile(slots, target)] };

        var plan = NetbootArtifactPlanner.Plan(Options("/slots.json"));

        Assert.Equal(new DiskContentFile(slots, "/slots.json"), Assert.Single(plan.MediumFiles));
        Assert.Matches($@"\n  slots\.json +from {System.Text.RegularExpressions.Regex.Escape(slots)}\n", plan.ToString());
        foreach (var target in new[] { "/" + NetbootArtifactPlan.SquashfsName, "/" + NetbootArtifactPlan.IpxeName, "/" + NetbootArtifactPlan.KernelName, "slots.json", "/../slots.json" })
        {
            Assert.Throws<ArgumentException>(() => NetbootArtifactPlanner.Plan(Options(target)));
        }

        Assert.Throws<ArgumentException>(() => NetbootArtifactPlanner.Plan(Options("/slots.json") with { MediumFiles = [new DiskContentFile(_temp.Combine("missing.json"), "/slots.json")] }));
    }

    [Fact]
    public void A_tree_without_a_kernel_and_an_output_that_is_a_file_are_refused()
    {
        Directory.CreateDirectory(_temp.Combine("broken"));
        Directory.CreateDirectory(_temp.Combine("good"));
        Assert.Throws<ImageNotBootableException>(() => NetbootArtifactPlanner.Plan(new NetbootArtifactOptions { RootDirectory = ArtifactTestTrees.Create(_temp.Combine("broken"), kernel: false), OutputDirectory = _temp.Combine("out") }));
        File.WriteAllText(_temp.Combine("file"), "x");
        Assert.Throws<InvalidNetbootOutputException>(() => NetbootArtifactPlanner.Plan(new NetbootArtifactOptions { RootDirectory = ArtifactTestTrees.Create(_temp.Combine("good")), OutputDirectory = _temp.Combine("file") }));
    }
}
