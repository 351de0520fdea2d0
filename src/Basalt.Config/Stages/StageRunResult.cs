using System.Text.Json.Nodes;

namespace Basalt.Config.Stages;

/// <summary>How <see cref="StageRunner"/> runs a stage.</summary>
public sealed record StageRunOptions
{
    /// <summary>The root every step acts on; live changes (sysctl -p, modprobe, systemctl start, layout) only when it is "/".</summary>
    public string Root { get; init; } = "/";
    /// <summary>Print what each step would do; nothing is written and no command runs.</summary>
    public bool DryRun { get; init; }
    /// <summary>Matched by <c>only_os</c>; null reads ID from the root's /etc/os-release.</summary>
    public string? OperatingSystem { get; init; }
    /// <summary>Matched by <c>only_os_version</c>; null reads VERSION_ID from the root's /etc/os-release.</summary>
    public string? OperatingSystemVersion { get; init; }
    /// <summary>Matched by <c>only_arch</c>, in Go's names (amd64, arm64); null is this machine's.</summary>
    public string? Architecture { get; init; }
    /// <summary>Matched by <c>node</c>; null reads the root's /etc/hostname.</summary>
    public string? Hostname { get; init; }
    /// <summary>What <c>{{ .Values.… }}</c> reads, over the built-in facts.</summary>
    public JsonObject? Values { get; init; }
    /// <summary>
    /// Where sysctl values are applied to the running kernel. Null: <c>/proc/sys</c> when <see cref="Root"/> is "/",
    /// nowhere otherwise (a root that is not running has no kernel to apply to).
    /// </summary>
    public string? KernelParameterDirectory { get; init; }
    /// <summary>The clock for shadow change dates.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

public enum StepStatus
{
    /// <summary>Every action of the step succeeded.</summary>
    Applied,
    /// <summary>A condition (if, only_os, only_arch, if_files, node) said no.</summary>
    Skipped,
    /// <summary>At least one action failed; the other actions of the step still ran.</summary>
    Failed,
    /// <summary>Dry run: the actions are what the step would do.</summary>
    Planned,
}

/// <summary>What one step did (or would do), and what went wrong.</summary>
public sealed record StepOutcome(string Stage, string Source, string Step, StepStatus Status, IReadOnlyList<string> Actions, IReadOnlyList<string> Errors)
{
    public string? SkipReason { get; init; }
}

/// <summary>The outcome of running one stage over all sources.</summary>
public sealed record StageRunResult(string Stage, IReadOnlyList<StepOutcome> Steps)
{
    /// <summary>Sources whose stages could not be read; nothing of theirs ran.</summary>
    public IReadOnlyList<string> SourceErrors { get; init; } = [];
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public bool Succeeded => SourceErrors.Count == 0 && Steps.All(step => step.Status != StepStatus.Failed);

    public IEnumerable<StepOutcome> Failed => Steps.Where(step => step.Status == StepStatus.Failed);
}
