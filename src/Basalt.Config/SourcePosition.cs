namespace Basalt.Config;

/// <summary>Where a value came from: a file (or URL, or "cmdline"), 1-based line and column.</summary>
public readonly record struct SourcePosition(string Source, int Line, int Column)
{
    public override string ToString() => Line > 0 ? $"{Source}:{Line}:{Column}" : Source;
}
