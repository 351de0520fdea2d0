namespace Basalt.Boot;

/// <summary>
/// The kernel command line cannot be turned into a boot: a mode Basalt does not know, keys that
/// contradict each other, a malformed value. The message names the key and what to write instead.
/// </summary>
public sealed class InvalidBootCommandLineException : BootException
{
    public InvalidBootCommandLineException(string message, string hint)
        : base(message, hint)
    {
    }

    public override string Kind => "invalid-boot-cmdline";
}

/// <summary>The mount layout (persistent, ephemeral and custom mounts) is inconsistent.</summary>
public sealed class InvalidMountLayoutException : BootException
{
    public InvalidMountLayoutException(string message, string hint)
        : base(message, hint)
    {
    }

    public override string Kind => "invalid-mount-layout";
}

/// <summary>A step of the boot-time mount plan failed (missing partition, missing image, mount error).</summary>
public sealed class MountStepFailedException : BootException
{
    public MountStepFailedException(string stepId, string message, string? hint = null, Exception? inner = null)
        : base($"boot step '{stepId}' failed: {message}", hint, inner)
    {
        StepId = stepId;
    }

    public string StepId { get; }
    public override string Kind => "mount-step-failed";
}

/// <summary>A grubenv block is not in GRUB's format (wrong header, broken line).</summary>
public sealed class MalformedGrubEnvironmentException : BootException
{
    public MalformedGrubEnvironmentException(string source, string problem)
        : base($"'{source}' is not a GRUB environment block: {problem}",
               "recreate it with 'grub-editenv FILE create' (or let basalt write it) and set the variables again")
    {
    }

    public override string Kind => "grubenv-malformed";
}

/// <summary>A grubenv change does not fit into the fixed-size block GRUB reads.</summary>
public sealed class GrubEnvironmentFullException : BootException
{
    public GrubEnvironmentFullException(string name, int needed, int available)
        : base($"setting GRUB variable '{name}' needs {needed} more bytes but the environment block has only {available} free",
               "unset variables that are no longer needed (e.g. long extra_cmdline values) and try again")
    {
        Name = name;
    }

    public string Name { get; }
    public override string Kind => "grubenv-full";
}

/// <summary>A GRUB variable name or value GRUB could not read back.</summary>
public sealed class InvalidGrubVariableException : BootException
{
    public InvalidGrubVariableException(string name, string problem)
        : base($"GRUB variable '{name}' is invalid: {problem}",
               "use a name made of letters, digits and '_' (no '=', no spaces, no newlines)")
    {
    }

    public override string Kind => "grubenv-invalid-variable";
}

/// <summary>A GRUB menu setting would produce a script GRUB reads differently than meant.</summary>
public sealed class InvalidGrubMenuException : BootException
{
    public InvalidGrubMenuException(string message, string hint)
        : base(message, hint)
    {
    }

    public override string Kind => "grub-menu-invalid";
}

public sealed class GrubEnvironmentMissingException : BootException
{
    public GrubEnvironmentMissingException(string path)
        : base($"the GRUB environment block '{path}' does not exist",
               "is COS_OEM mounted at /oem? pass --grubenv PATH for another location")
    {
        Path = path;
    }

    public string Path { get; }

    public override string Kind => "grubenv-missing";
}

/// <summary>A cloud-config stage run during boot had failing steps or unreadable sources; the boot goes on.</summary>
public sealed class BootStageFailedException : BootException
{
    public BootStageFailedException(string stage, IReadOnlyList<string> failures)
        : base($"the '{stage}' stage failed: {string.Join("; ", failures)}",
               $"fix the '{stage}' steps of the cloud-config ('basalt run-stage {stage} --dry-run' on the node shows them)")
    {
        Stage = stage;
        Failures = failures;
    }

    public string Stage { get; }
    public IReadOnlyList<string> Failures { get; }
    public override string Kind => "boot-stage-failed";
}
