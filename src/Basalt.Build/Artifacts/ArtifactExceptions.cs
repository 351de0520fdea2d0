namespace Basalt.Build.Artifacts;

/// <summary>The OS tree cannot boot: it lacks the kernel or initramfs <c>basalt init</c> places. Raised before anything is written.</summary>
public sealed class ImageNotBootableException : BuildException
{
    public ImageNotBootableException(string root, IReadOnlyList<string> missing)
        : base($"the image has no kernel: '{root}' lacks {string.Join(" and ", missing ?? [])}",
               "build it with basalt build image / basalt init, which place the kernel at /boot/vmlinuz and the initramfs at /boot/initrd")
    {
        Root = root;
        Missing = missing ?? [];
    }

    public string Root { get; }
    public IReadOnlyList<string> Missing { get; }
    public override string Kind => "image-not-bootable";
}

/// <summary>The OS tree given to a disk build does not exist or is not a directory.</summary>
public sealed class ImageRootNotFoundException : BuildException
{
    public ImageRootNotFoundException(string root)
        : base($"the OS tree '{root}' does not exist or is not a directory", "pass --root with an unpacked Basalt OS image, or an image reference")
    {
        Root = root;
    }

    public string Root { get; }
    public override string Kind => "image-root-not-found";
}

/// <summary>Neither the OS tree nor the host has GRUB's x86_64-efi modules, so no EFI loader can be made.</summary>
public sealed class GrubModulesNotFoundException : BuildException
{
    public GrubModulesNotFoundException(IReadOnlyList<string> searched)
        : base($"no GRUB x86_64-efi modules were found (looked in {string.Join(", ", searched ?? [])})",
               "install them on the build host with: apt-get install grub-efi-amd64-bin")
    {
        Searched = searched ?? [];
    }

    public IReadOnlyList<string> Searched { get; }
    public override string Kind => "grub-modules-missing";
}

/// <summary>The cloud-config file given to a disk build does not exist.</summary>
public sealed class CloudConfigNotFoundException : BuildException
{
    public CloudConfigNotFoundException(string path)
        : base($"the cloud-config file '{path}' does not exist", "check the path given to --cloud-config")
    {
        Path = path;
    }

    public string Path { get; }
    public override string Kind => "cloud-config-not-found";
}

/// <summary>A cloud-config file given to an artifact is not one a node would apply (syntax, header, schema).</summary>
public sealed class InvalidCloudConfigException : BuildException
{
    public InvalidCloudConfigException(string path, IReadOnlyList<string> problems)
        : base($"the cloud-config file '{path}' is not valid: {string.Join("; ", problems ?? [])}",
               "fix it (basalt config validate FILE shows every finding); nothing was written")
    {
        Path = path;
        Problems = problems ?? [];
    }

    public string Path { get; }
    public IReadOnlyList<string> Problems { get; }
    public override string Kind => "invalid-cloud-config";
}

/// <summary>The output path of a disk build is unusable (a directory, or its directory is missing).</summary>
public sealed class InvalidDiskOutputException : BuildException
{
    public InvalidDiskOutputException(string path, string reason)
        : base($"cannot write the disk to '{path}': {reason}", "pass -o with a file path in an existing directory")
    {
        Path = path;
    }

    public string Path { get; }
    public override string Kind => "invalid-output";
}

/// <summary>An offline edit of a filesystem inside a disk image failed (debugfs refused, the disk is not raw, the file is missing).</summary>
public sealed class OfflineEditException : BuildException
{
    public OfflineEditException(string message, string hint, Exception? inner = null)
        : base(message, hint, inner)
    {
    }

    public override string Kind => "offline-edit-failed";
}

/// <summary>A boot entry name that the Basalt menu does not have.</summary>
public sealed class UnknownBootEntryException : BuildException
{
    public UnknownBootEntryException(string entry, IReadOnlyList<string> known)
        : base($"'{entry}' is not a boot entry of the Basalt menu", $"use one of: {string.Join(", ", known ?? [])}")
    {
        Entry = entry;
    }

    public string Entry { get; }
    public override string Kind => "unknown-boot-entry";
}
