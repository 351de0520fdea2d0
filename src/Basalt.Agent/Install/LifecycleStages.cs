using Basalt.Config.Stages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Install;

/// <summary>
/// Runs the lifecycle stages of the node's cloud-config around an install, upgrade or reset. As in Kairos, a failing step is
/// logged and the action goes on, unless the config is <c>strict</c>: then the action stops with
/// <see cref="LifecycleStageFailedException"/>.
/// </summary>
public sealed class LifecycleStages
{
    private readonly StageRunner _runner;
    private readonly ILogger _logger;

    public LifecycleStages(StageRunner runner, IReadOnlyList<StageSource> sources, bool strict = false, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(sources);
        _runner = runner;
        Sources = sources;
        Strict = strict;
        _logger = logger ?? NullLogger.Instance;
    }

    public IReadOnlyList<StageSource> Sources { get; }

    public bool Strict { get; }

    /// <summary>How many steps <paramref name="stage"/> has across <paramref name="sources"/> (malformed sources count none).</summary>
    public static int CountSteps(IReadOnlyList<StageSource> sources, string stage)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentException.ThrowIfNullOrEmpty(stage);
        var count = 0;
        foreach (var source in sources)
        {
            try
            {
                count += source.ToPlan().StepsOf(stage).Count;
            }
            catch (InvalidStageException)
            {
                // Reported when the stage runs; a plan only counts what it can read.
            }
        }

        return count;
    }

    /// <summary>Runs <paramref name="stage"/> against <paramref name="root"/>; returns the result.</summary>
    public async Task<StageRunResult> RunAsync(string stage, string root, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stage);
        ArgumentException.ThrowIfNullOrEmpty(root);
        var result = await _runner.RunAsync(stage, Sources, new StageRunOptions { Root = root }, cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return result;
        }

        var failures = result.SourceErrors.Concat(result.Failed.Select(step => $"{step.Source} {step.Step}: {string.Join(", ", step.Errors)}")).ToList();
        if (Strict)
        {
            throw new LifecycleStageFailedException(stage, failures);
        }

        foreach (var failure in failures)
        {
            _logger.LogWarning("stage {Stage}: {Failure}", stage, failure);
        }

        return result;
    }
}
