namespace Basalt.Config.Yaml;

/// <summary>Bounds that keep a hostile document (alias bombs, absurd nesting) from exhausting time, memory or the stack.</summary>
public sealed record YamlLoadLimits
{
    /// <summary>Most nodes a document may have after every alias is expanded.</summary>
    public int MaxNodes { get; init; } = 100_000;

    /// <summary>Deepest nesting of mappings and sequences.</summary>
    public int MaxDepth { get; init; } = 64;

    public static YamlLoadLimits Default { get; } = new();
}
