namespace Basalt.Build.Init;

/// <summary>Base of every error while turning a root filesystem into a Basalt OS tree.</summary>
public abstract class InitException : BuildException
{
    protected InitException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }
}

public sealed class InitRootNotFoundException : InitException
{
    public InitRootNotFoundException(string root)
        : base($"the root filesystem '{root}' does not exist or is not a directory",
               "pass --root with an unpacked root filesystem, or run on / inside the image")
    {
        Root = root;
    }

    public string Root { get; }
    public override string Kind => "init-root-not-found";
}

public sealed class OsReleaseMissingException : InitException
{
    public OsReleaseMissingException(string root)
        : base($"'{root}' has neither /etc/os-release nor /usr/lib/os-release, so its distribution cannot be told",
               "init needs a full distribution root filesystem (e.g. debian:bookworm), not a scratch or distroless image")
    {
        Root = root;
    }

    public string Root { get; }
    public override string Kind => "os-release-missing";
}

public sealed class UnsupportedDistroException : InitException
{
    public UnsupportedDistroException(string id, string? idLike)
        : base($"the distribution '{id}'{(string.IsNullOrEmpty(idLike) ? string.Empty : $" (like '{idLike}')")} is not one Basalt knows",
               "Basalt supports Debian and Ubuntu based images today (dnf, zypper and apk families are planned)")
    {
        Id = id;
        IdLike = idLike;
    }

    public string Id { get; }
    public string? IdLike { get; }
    public override string Kind => "unsupported-distro";
}

public sealed class PackageManagerNotSupportedException : InitException
{
    public PackageManagerNotSupportedException(DistroFamily family, string packageManager)
        : base($"{family} based images ({packageManager}) are not supported by basalt init yet",
               "use a Debian or Ubuntu based image (apt), or prepare the image with the packages and files init installs")
    {
        Family = family;
        PackageManager = packageManager;
    }

    public DistroFamily Family { get; }
    public string PackageManager { get; }
    public override string Kind => "package-manager-not-supported";
}

public sealed class KernelNotFoundException : InitException
{
    public KernelNotFoundException(string root)
        : base($"no kernel found in '{root}' (no /boot/vmlinuz-VERSION with a matching /lib/modules/VERSION)",
               "install the distribution's kernel package in the image, or let init install it (it does when the package manager is supported)")
    {
    }

    public override string Kind => "kernel-not-found";
}

public sealed class BasaltBinaryNotFoundException : InitException
{
    public BasaltBinaryNotFoundException(string? path)
        : base(path is null
                   ? "the path of the running basalt binary is unknown, so it cannot be placed in the image"
                   : $"the basalt binary '{path}' does not exist",
               "pass --basalt-binary with the self-contained basalt executable")
    {
    }

    public override string Kind => "basalt-binary-not-found";
}

public sealed class BasaltBinaryNotSelfContainedException : InitException
{
    public BasaltBinaryNotSelfContainedException(string path)
        : base($"'{path}' is a framework-dependent launcher (its .dll and runtimeconfig lie beside it), so a copy of it alone cannot run in the image",
               "publish the self-contained single file (dotnet publish src/Basalt.Cli -c Release) and pass it with --basalt-binary")
    {
    }

    public override string Kind => "basalt-binary-not-self-contained";
}

public sealed class UnsafeRootPathException : InitException
{
    public UnsafeRootPathException(string root, string path, string reason)
        : base($"'{path}' inside '{root}' cannot be used: {reason}",
               "the image contains symbolic links that loop or a file where a directory is expected; fix the image")
    {
    }

    public override string Kind => "unsafe-root-path";
}

public sealed class InitRequiresRootException : InitException
{
    public InitRequiresRootException(string reason)
        : base($"basalt init needs root here: {reason}", "run it with sudo, or as root inside the image build")
    {
    }

    public override string Kind => "requires-root";
}
