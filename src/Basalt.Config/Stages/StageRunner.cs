using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Config.Stages;

/// <summary>
/// Runs a stage yip's way: for each sub-stage (X.before, X, X.after) and each source in order, the steps
/// in order (a step with <c>after</c> waits for the named steps instead of the one before it). A step whose
/// conditions fail is skipped; a failing action is reported and everything else still runs.
/// </summary>
public sealed class StageRunner
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);
    private readonly IToolRunner _tools;
    private readonly HttpClient? _http;
    private readonly IFileOwnership _ownership;
    private readonly ILogger _logger;

    public StageRunner(IToolRunner tools, HttpClient? http = null, IFileOwnership? ownership = null, ILogger<StageRunner>? logger = null)
    {
        _tools = tools ?? throw new ArgumentNullException(nameof(tools));
        _http = http;
        _ownership = ownership ?? new PosixFileOwnership();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public async Task<StageRunResult> RunAsync(string stage, IReadOnlyList<StageSource> sources, StageRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(options);
        var subStages = StageNames.Expand(stage);
        if (!Directory.Exists(options.Root))
        {
            throw new StageStepException($"the root '{options.Root}' is not a directory", "give --root an existing directory");
        }

        var plans = new List<StagePlan>();
        var sourceErrors = new List<string>();
        var warnings = new List<string>();
        foreach (var source in sources)
        {
            try
            {
                var plan = source.ToPlan();
                plans.Add(plan);
                warnings.AddRange(plan.Warnings);
            }
            catch (InvalidStageException error)
            {
                // An invalid file is reported and nothing of it runs; the other sources still do.
                sourceErrors.Add(error.Message);
                _logger.LogError("{Error}", error.Message);
            }
        }

        var facts = SystemFacts.Read(options);
        var context = new StepContext(options, _tools, _http, _ownership, facts);
        var outcomes = new List<StepOutcome>();
        foreach (var subStage in subStages)
        {
            foreach (var plan in plans)
            {
                var steps = plan.StepsOf(subStage);
                foreach (var (step, blocked) in Order(steps))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (blocked is not null)
                    {
                        outcomes.Add(new StepOutcome(subStage, plan.Source, step.DisplayName, StepStatus.Failed, [], [blocked]));
                        continue;
                    }

                    var outcome = await RunStepAsync(subStage, plan.Source, step, context, cancellationToken).ConfigureAwait(false);
                    _logger.LogInformation("{Stage} {Source} {Step}: {Status}", subStage, plan.Source, step.DisplayName, outcome.Status);
                    outcomes.Add(outcome);
                }
            }
        }

        return new StageRunResult(stage, outcomes) { SourceErrors = sourceErrors, Warnings = warnings };
    }

    /// <summary>
    /// The order steps run in: file order, except that a step with <c>after</c> waits until the steps it
    /// names have run (each time, the first step in file order whose dependencies are done runs next).
    /// yip also makes every step without <c>after</c> wait for the one before it, which turns an
    /// <c>after</c> naming a later step into a cycle; here file order is only the tie-break, so such a
    /// config does what it says. A step naming an unknown step, or caught in a real cycle, comes back
    /// with the reason it cannot run.
    /// </summary>
    public static IReadOnlyList<(StageStep Step, string? Blocked)> Order(IReadOnlyList<StageStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            if (!string.IsNullOrEmpty(steps[i].Name))
            {
                byName.TryAdd(steps[i].Name!, i);
            }
        }

        var dependencies = new List<int>[steps.Count];
        var blocked = new string?[steps.Count];
        for (var i = 0; i < steps.Count; i++)
        {
            dependencies[i] = [];
            foreach (var name in steps[i].After)
            {
                if (byName.TryGetValue(name, out var index) && index != i)
                {
                    dependencies[i].Add(index);
                }
                else
                {
                    blocked[i] = $"'after' names the step '{name}', which is not in this stage";
                }
            }
        }

        var done = new bool[steps.Count];
        var result = new List<(StageStep, string?)>(steps.Count);
        while (result.Count < steps.Count)
        {
            var next = -1;
            for (var i = 0; i < steps.Count && next < 0; i++)
            {
                if (!done[i] && dependencies[i].All(d => done[d]))
                {
                    next = i;
                }
            }

            if (next < 0)
            {
                // What is left waits on itself: report it instead of running it out of order.
                for (var i = 0; i < steps.Count; i++)
                {
                    if (!done[i])
                    {
                        done[i] = true;
                        result.Add((steps[i], blocked[i] ?? "'after' forms a cycle; the step was not run"));
                    }
                }

                break;
            }

            done[next] = true;
            result.Add((steps[next], blocked[next]));
        }

        return result;
    }

    private async Task<StepOutcome> RunStepAsync(string stage, string source, StageStep step, StepContext context, CancellationToken cancellationToken)
    {
        string? skip;
        try
        {
            skip = await CheckConditionsAsync(step, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is BasaltException or RegexParseException or RegexMatchTimeoutException or IOException)
        {
            return new StepOutcome(stage, source, step.DisplayName, StepStatus.Failed, [], [$"condition: {error.Message}"]);
        }

        if (skip is not null)
        {
            return new StepOutcome(stage, source, step.DisplayName, StepStatus.Skipped, [], []) { SkipReason = skip };
        }

        var executor = new StepExecutor(context, step);
        await executor.RunAsync(cancellationToken).ConfigureAwait(false);
        var status = executor.Errors.Count > 0 ? StepStatus.Failed : context.Options.DryRun ? StepStatus.Planned : StepStatus.Applied;
        IReadOnlyList<string> actions = context.Options.DryRun && step.If is { Length: > 0 } test
            ? [$"only if '{test}' succeeds (not tested in a dry run)", .. executor.Actions]
            : executor.Actions;
        return new StepOutcome(stage, source, step.DisplayName, status, actions, executor.Errors);
    }

    /// <summary>Null when the step runs, else why it is skipped.</summary>
    private static async Task<string?> CheckConditionsAsync(StageStep step, StepContext context, CancellationToken cancellationToken)
    {
        var facts = context.Facts;
        if (step.Node is { Length: > 0 } node && !Matches(node, facts.Hostname))
        {
            return $"node '{facts.Hostname}' does not match '{node}'";
        }

        if (step.OnlyOs is { Length: > 0 } os && !Matches(os, facts.OperatingSystem))
        {
            return $"operating system '{facts.OperatingSystem}' does not match only_os '{os}'";
        }

        if (step.OnlyOsVersion is { Length: > 0 } version && !Matches(version, facts.OperatingSystemVersion))
        {
            return $"operating system version '{facts.OperatingSystemVersion}' does not match only_os_version '{version}'";
        }

        if (step.OnlyArch is { Length: > 0 } arch && !Matches(arch, facts.Architecture))
        {
            return $"architecture '{facts.Architecture}' does not match only_arch '{arch}'";
        }

        if (step.IfFiles is { } files)
        {
            bool Exists(string path)
            {
                var host = RootPath.Resolve(context.Options.Root, path, followLast: true);
                return File.Exists(host) || Directory.Exists(host);
            }

            if (files.All.FirstOrDefault(path => !Exists(path)) is { } missing)
            {
                return $"if_files: '{missing}' does not exist";
            }

            if (files.Any.Count > 0 && !files.Any.Any(Exists))
            {
                return "if_files: none of " + string.Join(", ", files.Any) + " exists";
            }

            if (files.None.FirstOrDefault(Exists) is { } present)
            {
                return $"if_files: '{present}' exists";
            }
        }

        if (step.If is { Length: > 0 } test)
        {
            var rendered = StageTemplate.Render(test, context.Templates);
            if (context.Options.DryRun)
            {
                // A test is a command like any other: in a dry run it is shown, not run.
                return null;
            }

            var result = await context.RunShellAsync(rendered, acceptAnyExit: true, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                return $"if '{rendered}' exited {result.ExitCode}";
            }
        }

        return null;
    }

    private static bool Matches(string pattern, string value) =>
        Regex.IsMatch(value, pattern, RegexOptions.CultureInvariant, RegexTimeout);
}

/// <summary>Facts about the target system the conditions and templates read.</summary>
internal sealed record SystemFacts(string OperatingSystem, string OperatingSystemVersion, string Architecture, string Hostname, IReadOnlyDictionary<string, string> TemplateFacts, string? MachineId)
{
    public static SystemFacts Read(StageRunOptions options)
    {
        var osRelease = ReadOsRelease(options.Root);
        var hostname = options.Hostname ?? ReadFirstLine(options.Root, "/etc/hostname") ?? string.Empty;
        var machineId = ReadFirstLine(options.Root, "/etc/machine-id") ?? ReadFirstLine(options.Root, "/var/lib/dbus/machine-id");
        var arch = options.Architecture ?? GoArchitecture(RuntimeInformation.OSArchitecture);
        var os = options.OperatingSystem ?? osRelease.GetValueOrDefault("ID", string.Empty);
        var version = options.OperatingSystemVersion ?? osRelease.GetValueOrDefault("VERSION_ID", string.Empty);
        var facts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["node.hostname"] = hostname,
            ["os.name"] = osRelease.GetValueOrDefault("PRETTY_NAME", os),
            ["os.vendor"] = os,
            ["os.version"] = version,
            ["os.release"] = osRelease.GetValueOrDefault("VERSION", version),
            ["os.architecture"] = arch,
            ["kernel.architecture"] = arch,
        };
        return new SystemFacts(os, version, arch, hostname, facts, machineId);
    }

    public static string GoArchitecture(Architecture architecture) => architecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm or System.Runtime.InteropServices.Architecture.Armv6 => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        System.Runtime.InteropServices.Architecture.LoongArch64 => "loong64",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        _ => architecture.ToString().ToLowerInvariant(),
    };

    private static string? ReadFirstLine(string root, string path)
    {
        var host = RootPath.Resolve(root, path, followLast: true);
        if (!File.Exists(host))
        {
            return null;
        }

        var line = File.ReadLines(host).FirstOrDefault()?.Trim();
        return string.IsNullOrEmpty(line) ? null : line;
    }

    private static Dictionary<string, string> ReadOsRelease(string root)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var candidate in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            var host = RootPath.Resolve(root, candidate, followLast: true);
            if (!File.Exists(host))
            {
                continue;
            }

            foreach (var line in File.ReadLines(host))
            {
                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0 && !line.StartsWith('#'))
                {
                    values[line[..equals].Trim()] = line[(equals + 1)..].Trim().Trim('"', '\'');
                }
            }

            break;
        }

        return values;
    }
}
