using Basalt.Build.Artifacts;
using Basalt.Build.Vm;
using Basalt.Disk.Assembly;
using Basalt.Platform;

namespace Basalt.Build.Demo;

/// <summary>Something the host must have, and the Debian package that brings it: a program on PATH or a file.</summary>
public sealed record HostRequirement(string Package, string? Tool = null, string? FilePath = null)
{
    public string What => Tool ?? FilePath ?? Package;
}

/// <summary>The tools and files <c>basalt demo</c> runs, and how to find which ones the host lacks.</summary>
public static class DemoRequirements
{
    public const string AptTool = "apt-get";

    /// <summary>What a demo run needs; the base builder only when the demo makes its own OS tree.</summary>
    public static IReadOnlyList<HostRequirement> For(bool ownOsTree)
    {
        var requirements = new List<HostRequirement>();
        if (ownOsTree)
        {
            requirements.Add(new HostRequirement("debootstrap", Tool: "debootstrap"));
        }

        requirements.Add(new HostRequirement(Oci.Registry.LocalRegistry.Package, Tool: Oci.Registry.LocalRegistry.Tool));
        requirements.Add(new HostRequirement(VmLauncher.QemuPackage, Tool: QemuCommandLine.Binary));
        requirements.Add(new HostRequirement("ovmf", FilePath: new VmSpec().OvmfCodePath));
        requirements.Add(new HostRequirement("ovmf", FilePath: new VmSpec().OvmfVarsTemplatePath));
        requirements.Add(new HostRequirement("grub-efi-amd64-bin", FilePath: Path.Combine(DiskArtifactPlanner.HostGrubModulesDirectory, "normal.mod")));
        foreach (var (tool, package) in DiskArtifactPlanner.RequiredTools(DiskImageFormat.Raw))
        {
            requirements.Add(new HostRequirement(package, Tool: tool));
        }

        return requirements.DistinctBy(requirement => requirement.What).ToList();
    }

    /// <summary>The requirements this host does not meet.</summary>
    public static IReadOnlyList<HostRequirement> Missing(IEnumerable<HostRequirement> requirements, Func<string, bool> toolExists, Func<string, bool> fileExists)
    {
        ArgumentNullException.ThrowIfNull(requirements);
        ArgumentNullException.ThrowIfNull(toolExists);
        ArgumentNullException.ThrowIfNull(fileExists);
        return requirements.Where(requirement => requirement.Tool is { } tool ? !toolExists(tool) : !fileExists(requirement.FilePath!)).ToList();
    }

    /// <summary>The apt-get command lines that install <paramref name="packages"/> without a question.</summary>
    public static IReadOnlyList<ToolInvocation> InstallCommands(IReadOnlyList<string> packages)
    {
        ArgumentNullException.ThrowIfNull(packages);
        if (packages.Count == 0)
        {
            return [];
        }

        var environment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        return
        [
            new ToolInvocation(AptTool, ["update"]) { Package = "apt", Environment = environment, Timeout = TimeSpan.FromMinutes(10) },
            new ToolInvocation(AptTool, ["install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", .. packages])
            {
                Package = "apt",
                Environment = environment,
                Timeout = TimeSpan.FromMinutes(30),
            },
        ];
    }
}
