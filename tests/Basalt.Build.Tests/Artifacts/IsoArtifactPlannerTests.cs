using Basalt.Boot.CommandLine;
using Basalt.Build.Artifacts;
using Basalt.Testing;

namespace Basalt.Build.Tests.Artifacts;

public sealed class IsoArtifactPlannerTests : IDisposable
{
    private readonly TempDirectory _temp = new("iso-plan");

    public void Dispose() => _temp.Dispose();

    private IsoArtifactOptions Options(string root, string? bios = null) => new()
    {
        RootDirectory = root,
        OutputPath = _temp.Combine("basalt.iso"),
        GrubModulesDirectory = ArtifactTestTrees.FakeGrubModules(_temp.Path),
        BiosModulesDirectory = bios,
    };

    private string FakeBiosModules()
    {
        var directory = _temp.Combine("grub-i386-pc");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "moddep.lst"), "normal: boot\n");
        File.WriteAllText(Path.Combine(directory, IsoArtifactPlanner.HybridMbrFile), "mbr");
        return directory;
    }

    [Fact]
    public void The_live_menu_boots_the_medium_kernel_with_a_command_line_the_mounter_reads_as_live_from_the_iso_squashfs()
    {
        var plan = IsoArtifactPlanner.Plan(Options(ArtifactTestTrees.Create(_temp.Path)));

        var parameters = BootParameters.Parse(string.Join(' ', plan.KernelArguments) + " boot=basalt");
        Assert.Equal(BootMode.Live, parameters.Mode);
        Assert.Equal(RootImageFormat.Squashfs, parameters.ImageFormat);
        Assert.Equal(IsoArtifactPlan.SquashfsTarget, parameters.ImagePath);
        Assert.Equal(DeviceReference.Label(IsoArtifactPlan.VolumeLabel), parameters.ImageContainer);
        Assert.Contains($"linux {IsoArtifactPlan.KernelTarget} ", plan.MenuConfig, StringComparison.Ordinal);
        Assert.Contains($"initrd {IsoArtifactPlan.InitrdTarget}", plan.MenuConfig, StringComparison.Ordinal);
        Assert.Contains("source (loop0)/etc/cos/bootargs.cfg", plan.MenuConfig, StringComparison.Ordinal);
        Assert.Contains($"search --no-floppy --label --set=root {IsoArtifactPlan.VolumeLabel}", plan.EmbeddedConfig, StringComparison.Ordinal);
        Assert.Equal(["kernel", "initramfs"], plan.Files.Select(f => f.What));
    }

    [Fact]
    public void Files_the_caller_adds_go_onto_the_medium_and_none_may_replace_what_the_build_writes()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var slots = _temp.Combine("slots.json");
        File.WriteAllText(slots, "{}");

        var plan = IsoArtifactPlanner.Plan(Options(root) with { MediumFiles = [new DiskContentFile(slots, "/slots.json")] });

        var file = Assert.Single(plan.Files, f => f.Target == "/slots.json");
        Assert.Equal(slots, file.Source);
        Assert.Contains("/slots.json", plan.ToString(), StringComparison.Ordinal);
        foreach (var target in new[] { IsoArtifactPlan.SquashfsTarget, IsoArtifactPlan.MenuTarget, "slots.json", "/../slots.json" })
        {
            Assert.Throws<ArgumentException>(() => IsoArtifactPlanner.Plan(Options(root) with { MediumFiles = [new DiskContentFile(slots, target)] }));
        }

        Assert.Throws<ArgumentException>(() => IsoArtifactPlanner.Plan(Options(root) with { MediumFiles = [new DiskContentFile(_temp.Combine("missing.json"), "/slots.json")] }));
    }

    [Fact]
    public void The_cloud_config_goes_to_the_root_of_the_medium_where_the_live_system_collects_it()
    {
        var config = _temp.Combine("auto.yaml");
        File.WriteAllText(config, "#cloud-config\ninstall:\n  auto: true\n");
        var plan = IsoArtifactPlanner.Plan(Options(ArtifactTestTrees.Create(_temp.Path)) with { CloudConfigPath = config });

        var file = Assert.Single(plan.Files, f => f.Target == IsoArtifactPlan.CloudConfigTarget);
        Assert.Equal(config, file.Source);
        Assert.Equal("/", Path.GetDirectoryName(IsoArtifactPlan.CloudConfigTarget));
        Assert.Contains("/run/initramfs/live", Basalt.Config.Collection.ConfigCollectorOptions.DefaultDirectories);
    }

    [Fact]
    public void Without_grub_pc_bin_the_plan_says_uefi_only_and_xorriso_gets_no_bios_image()
    {
        var plan = IsoArtifactPlanner.Plan(Options(ArtifactTestTrees.Create(_temp.Path))) with { BiosModulesDirectory = null };

        Assert.False(plan.BootsBios);
        Assert.Contains("BIOS: not supported (install grub-pc-bin", plan.ToString(), StringComparison.Ordinal);
        var xorriso = IsoArtifactBuilder.DescribeXorriso(plan, "/staging", "/out.iso");
        Assert.DoesNotContain("-b", xorriso.Arguments);
        Assert.Contains("-e", xorriso.Arguments);
        Assert.Null(IsoArtifactBuilder.DescribeBiosLoader(plan, "/embedded.cfg", "/bios.img"));
        var label = xorriso.Arguments.ToList().IndexOf("-V");
        Assert.Equal(IsoArtifactPlan.VolumeLabel, xorriso.Arguments[label + 1]);
    }

    [Fact]
    public void With_grub_pc_bin_the_iso_gets_a_bios_el_torito_image_and_a_hybrid_mbr()
    {
        var bios = FakeBiosModules();
        var plan = IsoArtifactPlanner.Plan(Options(ArtifactTestTrees.Create(_temp.Path), bios));

        Assert.True(plan.BootsBios);
        var xorriso = IsoArtifactBuilder.DescribeXorriso(plan, "/staging", "/out.iso");
        Assert.Contains("--grub2-mbr", xorriso.Arguments);
        Assert.Contains(Path.Combine(bios, IsoArtifactPlanner.HybridMbrFile), xorriso.Arguments);
        var loader = IsoArtifactBuilder.DescribeBiosLoader(plan, "/embedded.cfg", "/bios.img");
        Assert.NotNull(loader);
        Assert.Contains("i386-pc-eltorito", loader.Arguments);
        Assert.Contains("iso9660", IsoArtifactBuilder.DescribeEfiLoader(plan, "/embedded.cfg", "/x.efi").Arguments);
    }

    [Fact]
    public void A_tree_without_a_kernel_is_refused_before_anything_is_written()
    {
        var root = ArtifactTestTrees.Create(_temp.Path, kernel: false);

        var error = Assert.Throws<ImageNotBootableException>(() => IsoArtifactPlanner.Plan(Options(root)));
        Assert.Contains("/boot/vmlinuz", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.Combine("basalt.iso")));
    }

    [Fact]
    public void An_output_that_cannot_be_written_is_a_typed_error()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        Assert.Throws<InvalidIsoOutputException>(() => IsoArtifactPlanner.Plan(Options(root) with { OutputPath = _temp.Combine("missing", "basalt.iso") }));
        Directory.CreateDirectory(_temp.Combine("a-directory"));
        Assert.Throws<InvalidIsoOutputException>(() => IsoArtifactPlanner.Plan(Options(root) with { OutputPath = _temp.Combine("a-directory") }));
    }

    [Fact]
    public void A_missing_cloud_config_and_a_medium_too_small_for_the_kernel_are_refused()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);

        Assert.Throws<CloudConfigNotFoundException>(() => IsoArtifactPlanner.Plan(Options(root) with { CloudConfigPath = _temp.Combine("nope.yaml") }));
        var error = Assert.Throws<IsoTooLargeException>(() => IsoArtifactPlanner.Plan(Options(root) with { MaxSizeBytes = 1024 * 1024 }));
        Assert.Equal(1024 * 1024, error.MaxBytes);
    }
}
