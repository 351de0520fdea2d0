using System.Text.Json.Nodes;
using Basalt.Config.Collection;
using Basalt.Platform;
using Microsoft.Extensions.Logging;

namespace Basalt.Config.Stages;

/// <summary>What running a stage of the node's config did: the stage's outcome and the config it came from.</summary>
public sealed record ConfigStageResult(StageRunResult Run, MergedConfig Config)
{
    /// <summary>Every step ran (or was skipped by its conditions) and every source was readable.</summary>
    public bool Succeeded => Run.Succeeded;
}

/// <summary>
/// The one way Basalt runs a cloud-config stage with the node's merged config: <c>basalt run-stage</c>,
/// the boot units, and install / upgrade / reset around their work (<c>before-upgrade</c> on the running
/// system, <c>after-upgrade-chroot</c> against the new system mounted at a directory, …).
/// The config is collected where <see cref="ConfigCollectorOptions.Root"/> says (the running node, as a
/// rule) while the steps act on <see cref="StageRunOptions.Root"/> (the target), so a chroot stage of an
/// upgrade runs the node's config against the new image. Sources run as Kairos runs them: the cloud-init
/// keys of the merged config first, then every applied file's own <c>stages</c>, in merge order.
/// </summary>
public sealed class ConfigStages
{
    private readonly StageRunner _runner;
    private readonly ConfigCollector _collector;

    /// <param name="tools">Runs the steps' commands.</param>
    /// <param name="http">For <c>downloads</c> steps and <c>config_url</c>; none when null.</param>
    /// <param name="collector">Collects the config; a default one when null.</param>
    /// <param name="ownership">Sets file owners; the real chown when null.</param>
    /// <param name="logger">Logs each step.</param>
    public ConfigStages(IToolRunner tools, HttpClient? http = null, ConfigCollector? collector = null, IFileOwnership? ownership = null, ILogger<StageRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(tools);
        _runner = new StageRunner(tools, http, ownership, logger);
        _collector = collector ?? new ConfigCollector();
    }

    /// <summary>
    /// Collects and merges the config as <paramref name="collect"/> says, then runs <paramref name="stage"/>
    /// (a boot stage with its <c>.before</c>/<c>.after</c>, or a lifecycle stage) against <paramref name="run"/>'s root.
    /// An invalid config file is left out (its findings are in <see cref="MergedConfig.Issues"/>); a failing step
    /// is reported in the result, never thrown. Throws <see cref="UnknownStageException"/> before reading anything
    /// for a stage name that does not exist.
    /// </summary>
    public async Task<ConfigStageResult> RunAsync(string stage, ConfigCollectorOptions collect, StageRunOptions run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(collect);
        ArgumentNullException.ThrowIfNull(run);
        StageNames.Expand(stage);
        var merged = await _collector.CollectAsync(collect, cancellationToken).ConfigureAwait(false);
        return await RunAsync(stage, merged, run, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="stage"/> of a config already collected (install has one from its own --config).</summary>
    public async Task<ConfigStageResult> RunAsync(string stage, MergedConfig config, StageRunOptions run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(run);
        var result = await _runner.RunAsync(stage, Sources(config), run, cancellationToken).ConfigureAwait(false);
        return new ConfigStageResult(result, config);
    }

    /// <summary>
    /// The stage sources of a merged config: its cloud-init keys (<c>runcmd</c>, <c>users</c>, <c>hostname</c>, …,
    /// merged, so they run once) first, then each applied source's own <c>stages</c> in merge order.
    /// </summary>
    public static IReadOnlyList<StageSource> Sources(MergedConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var cloudInit = (JsonObject)config.Root.DeepClone();
        cloudInit.Remove("stages");
        var sources = new List<StageSource> { new("merged config", cloudInit) };
        sources.AddRange(config.StagesBySource.Select(s => StageSource.FromStages(s.Source, s.Stages)));
        return sources;
    }
}
