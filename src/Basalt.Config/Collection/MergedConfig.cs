using System.Text.Json.Nodes;
using Basalt.Config.Model;

namespace Basalt.Config.Collection;

/// <summary>The stages one source contributed, kept apart so every file's steps run in source order.</summary>
public sealed record SourcedStages(string Source, JsonObject Stages);

/// <summary>A source that was looked at and not applied, and why (no header, wrong extension, too big, invalid).</summary>
public sealed record SkippedSource(string Source, string Reason);

/// <summary>
/// The result of collecting and merging: the merged tree (stages concatenated as Kairos does), the typed view,
/// the applied sources in merge order, each source's own stages, and every finding.
/// </summary>
public sealed record MergedConfig(
    JsonObject Root,
    CloudConfig Config,
    IReadOnlyList<string> Sources,
    IReadOnlyList<SourcedStages> StagesBySource,
    IReadOnlyList<SkippedSource> Skipped,
    IReadOnlyList<ConfigIssue> Issues)
{
    public bool HasErrors => Issues.Any(i => i.Severity == ConfigIssueSeverity.Error);

    /// <summary>The value at a dot-notation path (<c>install.device</c>, <c>users[0].name</c>), or null.</summary>
    public JsonNode? Get(string keyPath) => KeyPath.Parse(keyPath).Find(Root);
}
