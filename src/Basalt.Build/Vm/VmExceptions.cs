namespace Basalt.Build.Vm;

/// <summary>The file given to <c>basalt vm</c> is none of the artifacts it boots.</summary>
public sealed class UnknownArtifactKindException : BuildException
{
    public UnknownArtifactKindException(string path, string reason)
        : base($"'{path}' is not a raw or qcow2 disk, an ISO or a netboot directory: {reason}",
               "give a file made by basalt build raw|qcow2|disk|iso, or a netboot directory holding vmlinuz and initrd")
    {
        Path = path;
    }

    public string Path { get; }
    public override string Kind => "unknown-artifact-kind";
}

/// <summary>A directory given to <c>basalt vm</c> lacks the files of the netboot contract.</summary>
public sealed class NetbootDirectoryIncompleteException : BuildException
{
    public NetbootDirectoryIncompleteException(string directory, IReadOnlyList<string> missing)
        : base($"the netboot directory '{directory}' has no {string.Join(" and no ", missing ?? [])}",
               $"a netboot directory holds {NetbootDirectory.KernelName}, {NetbootDirectory.InitrdName} and optionally {NetbootDirectory.CommandLineName} (basalt build netboot writes them)")
    {
        Directory = directory;
        Missing = missing ?? [];
    }

    public string Directory { get; }
    public IReadOnlyList<string> Missing { get; }
    public override string Kind => "netboot-directory-incomplete";
}

/// <summary>A host port to forward is already taken; found by binding it before QEMU starts.</summary>
public sealed class PortInUseException : BuildException
{
    public PortInUseException(int port, string reason)
        : base($"host port 127.0.0.1:{port} is already in use ({reason})", "pick another host port for --port-forward, or stop what listens on it")
    {
        Port = port;
    }

    public int Port { get; }
    public override string Kind => "port-in-use";
}

/// <summary>KVM was asked for but /dev/kvm cannot be used.</summary>
public sealed class KvmUnavailableException : BuildException
{
    public KvmUnavailableException(string reason)
        : base($"KVM was requested but cannot be used: {reason}", "use --accel tcg (or auto), or load kvm_intel/kvm_amd and give this user access to /dev/kvm")
    {
    }

    public override string Kind => "kvm-unavailable";
}

/// <summary>An option of <c>basalt vm</c> that the artifact's kind cannot honour.</summary>
public sealed class VmOptionNotApplicableException : BuildException
{
    public VmOptionNotApplicableException(string option, string reason, string hint)
        : base($"{option} cannot be used here: {reason}", hint)
    {
        Option = option;
    }

    public string Option { get; }
    public override string Kind => "vm-option-not-applicable";
}

/// <summary>QEMU itself stopped with a failure (it printed why on the terminal).</summary>
public sealed class VmFailedException : BuildException
{
    public VmFailedException(int exitCode)
        : base($"QEMU stopped with exit code {exitCode}", "its own message is printed above; run with --verbose to see its command line")
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }
    public override string Kind => "vm-failed";
}
