using System.Text.RegularExpressions;
using Basalt.Build.Artifacts;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Artifacts;

/// <summary>
/// A real <c>basalt build iso</c> of a tiny tree, read back with xorriso: the El Torito boot catalog must offer both
/// firmwares (a bootable BIOS entry, platform id 0x00, and a bootable UEFI entry, platform id 0xef, which xorriso names
/// BIOS and UEFI) when grub-pc-bin is installed, and the
/// medium must carry the files the live menu and the mounter look for.
/// </summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed partial class IsoArtifactBuilderIntegrationTests : IDisposable
{
    private readonly TempDirectory _temp = new("artifact-iso");
    private readonly ToolRunner _runner = new();

    public IsoArtifactBuilderIntegrationTests()
    {
        Requires.Tool("xorriso", "xorriso");
        Requires.Tool("mksquashfs", "squashfs-tools");
        Requires.Tool("mkfs.vfat", "dosfstools");
        Requires.Tool("mcopy", "mtools");
        Requires.Tool("grub-mkimage", "grub-common");
        RequiresGrubModules(DiskArtifactPlanner.HostGrubModulesDirectory, "grub-efi-amd64-bin");
        RequiresGrubModules(IsoArtifactPlanner.HostBiosModulesDirectory, "grub-pc-bin");
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_iso_boot_catalog_has_a_bios_and_a_uefi_entry_and_the_medium_has_the_live_files()
    {
        var root = ArtifactTestTrees.Create(_temp.Path);
        var config = _temp.Combine("auto.yaml");
        await File.WriteAllTextAsync(config, "#cloud-config\ninstall:\n  auto: true\n");
        var options = new IsoArtifactOptions
        {
            RootDirectory = root,
            OutputPath = _temp.Combine("basalt.iso"),
            CloudConfigPath = config,
            GrubModulesDirectory = DiskArtifactPlanner.HostGrubModulesDirectory,
        };

        var result = await new IsoArtifactBuilder(_runner).BuildAsync(options);

        Assert.True(result.BootsBios, "with grub-pc-bin installed the plan boots BIOS too");
        var catalog = await Xorriso("-indev", options.OutputPath, "-report_el_torito", "plain");
        // "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4        4130": number, platform, bootable, emulation.
        var entries = BootImageLine().Matches(catalog).Select(m => (Platform: m.Groups["platform"].Value, Bootable: m.Groups["bootable"].Value, Emulation: m.Groups["emulation"].Value)).ToList();
        Assert.True(entries.Contains(("BIOS", "y", "none")), $"a bootable no-emulation BIOS (platform 0x00) entry in the El Torito catalog:\n{catalog}");
        Assert.True(entries.Contains(("UEFI", "y", "none")), $"a bootable no-emulation UEFI (platform 0xef) entry in the El Torito catalog:\n{catalog}");
        Assert.Equal(2, entries.Count);
        Assert.Contains("El Torito img path :   1  /boot/grub/bios.img", catalog, StringComparison.Ordinal);
        Assert.Contains("El Torito img path :   2  /boot/efi.img", catalog, StringComparison.Ordinal);

        var volume = await Xorriso("-indev", options.OutputPath, "-pvd_info");
        Assert.Contains($"Volume Id    : {IsoArtifactPlan.VolumeLabel}", volume, StringComparison.Ordinal);
        var listing = await Xorriso("-indev", options.OutputPath, "-find", "/", "-type", "f");
        foreach (var file in new[] { IsoArtifactPlan.KernelTarget, IsoArtifactPlan.InitrdTarget, IsoArtifactPlan.SquashfsTarget, IsoArtifactPlan.MenuTarget, IsoArtifactPlan.CloudConfigTarget })
        {
            Assert.Contains($"'{file}'", listing, StringComparison.Ordinal);
        }

        // Hybrid: the same file starts with an MBR (boot_hybrid.img), so it also boots from a USB stick under BIOS.
        var mbr = new byte[512];
        await using (var stream = File.OpenRead(options.OutputPath))
        {
            await stream.ReadExactlyAsync(mbr);
        }

        Assert.Equal([0x55, 0xAA], mbr[510..512]);
    }

    private async Task<string> Xorriso(params string[] arguments)
    {
        var result = await _runner.RunAsync(new ToolInvocation("xorriso", arguments) { Package = "xorriso" });
        // xorriso writes its reports to stdout and its chatter to stderr; keep both for the failure messages.
        return result.StandardOutput + result.StandardError;
    }

    private static void RequiresGrubModules(string directory, string package)
    {
        if (!File.Exists(Path.Combine(directory, "moddep.lst")))
        {
            throw new RequirementMissingException($"this test needs GRUB modules in {directory}: apt-get install -y {package} (.ci/run installs it)");
        }
    }

    [GeneratedRegex(@"^El Torito boot img :\s+\d+\s+(?<platform>\S+)\s+(?<bootable>\S+)\s+(?<emulation>\S+)\s", RegexOptions.Multiline)]
    private static partial Regex BootImageLine();
}
