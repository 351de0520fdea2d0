namespace Basalt.Config.Stages;

/// <summary>A step in a <c>stages</c> block is malformed: names the stage, the step and the field.</summary>
public sealed class InvalidStageException : ConfigException
{
    public InvalidStageException(string source, string stage, int stepIndex, string? stepName, string field, string problem)
        : base(Describe(source, stage, stepIndex, stepName, field, problem),
               "fix the step in the cloud-config; see the stage step reference for the expected shape")
    {
        Origin = source;
        Stage = stage;
        StepIndex = stepIndex;
        StepName = stepName;
        Field = field;
        Problem = problem;
    }

    /// <summary>The config source (file, URL) the step came from.</summary>
    public string Origin { get; }
    public string Stage { get; }
    /// <summary>Zero-based index of the step in its stage; -1 when the stage itself is malformed.</summary>
    public int StepIndex { get; }
    public string? StepName { get; }
    public string Field { get; }
    public string Problem { get; }
    public override string Kind => "invalid-stage";

    private static string Describe(string source, string stage, int stepIndex, string? stepName, string field, string problem)
    {
        var step = stepIndex < 0 ? string.Empty : $" step {stepIndex}" + (string.IsNullOrEmpty(stepName) ? string.Empty : $" ('{stepName}')");
        var where = string.IsNullOrEmpty(field) ? string.Empty : $", field '{field}'";
        return $"{source}: stage '{stage}'{step}{where}: {problem}";
    }
}

/// <summary>A <c>{{ … }}</c> template in a step uses syntax or a value Basalt does not provide.</summary>
public sealed class StageTemplateException : ConfigException
{
    public StageTemplateException(string template, string problem)
        : base($"template '{template}': {problem}",
               "supported: {{ .Values.a.b }}, {{ .MachineID }}, {{ .Random }}, {{ .UUID }}, {{ .ProtectedID }}, " +
               "the functions trunc N, upper, lower, trim, default, and pipes between them")
    {
        Template = template;
        Problem = problem;
    }

    public string Template { get; }
    public string Problem { get; }
    public override string Kind => "invalid-template";
}

/// <summary>A step could not do what it was asked on the target root (missing user, bad encoding, …).</summary>
public sealed class StageStepException : ConfigException
{
    public StageStepException(string message, string? hint = null, Exception? inner = null)
        : base(message, hint, inner)
    {
    }

    public override string Kind => "stage-step-failed";
}

/// <summary>The stage name asked for is not one Basalt knows how to run.</summary>
public sealed class UnknownStageException : ConfigException
{
    public UnknownStageException(string stage)
        : base($"unknown stage '{stage}'",
               "stages are rootfs, initramfs, fs, boot, network, reconcile (each also with .before/.after) and " +
               string.Join(", ", StageNames.Lifecycle))
    {
        Stage = stage;
    }

    public string Stage { get; }
    public override string Kind => "unknown-stage";
}
