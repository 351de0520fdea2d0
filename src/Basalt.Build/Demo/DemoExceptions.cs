namespace Basalt.Build.Demo;

/// <summary>The host lacks packages the demo needs and the demo may not install them.</summary>
public sealed class DemoPackagesMissingException : BuildException
{
    public DemoPackagesMissingException(IReadOnlyList<HostRequirement> missing, string whyNotInstalled)
        : base(
            $"the demo needs {string.Join(", ", missing.Select(m => m.What))} from Debian packages not installed here ({whyNotInstalled})",
            $"install them with: sudo apt-get install -y {string.Join(' ', Packages(missing))}; or run sudo basalt demo --yes to let the demo install them")
    {
        MissingPackages = Packages(missing);
    }

    public IReadOnlyList<string> MissingPackages { get; }

    public override string Kind => "packages-missing";

    private static List<string> Packages(IReadOnlyList<HostRequirement> missing) =>
        missing.Select(m => m.Package).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}

public sealed class DemoRequiresRootException : BuildException
{
    public DemoRequiresRootException()
        : base("basalt demo needs root: it runs debootstrap and chroot, and reads a whole OS tree with its owners", "run it with sudo")
    {
    }

    public override string Kind => "requires-root";
}

public sealed class DemoOptionException : BuildException
{
    public DemoOptionException(string message, string hint)
        : base(message, hint)
    {
    }

    public override string Kind => "invalid-option";
}

public sealed class DemoOsTreeInvalidException : BuildException
{
    public DemoOsTreeInvalidException(string path)
        : base($"'{path}' is not a Basalt OS tree (it needs /usr/bin/basalt, /boot/vmlinuz and /boot/initrd)", "make one with basalt init --root DIR, or leave --os-tree out and the demo makes its own")
    {
        Path = path;
    }

    public string Path { get; }

    public override string Kind => "not-an-os-tree";
}

/// <summary>A step of the demo saw something other than what it must show (the node did not run v2, for instance).</summary>
public sealed class DemoCheckFailedException : BuildException
{
    public DemoCheckFailedException(string what, string detail)
        : base($"{what}: {detail}", "the work directory's vm/console.log has the whole serial console; run again with --keep-work-dir to look at the disk")
    {
    }

    public override string Kind => "demo-check-failed";
}
