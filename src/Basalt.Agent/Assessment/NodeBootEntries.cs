using Basalt.Agent.Node;
using Basalt.Boot;
using Basalt.Boot.Grub;
using Basalt.Platform;

namespace Basalt.Agent.Assessment;

/// <summary>
/// <c>basalt bootentry</c> on a running node: the menu's entries, and a one-shot choice for the next boot
/// (<c>next_entry</c> in the grubenv on COS_OEM; the menu clears it when it boots).
/// </summary>
public sealed class NodeBootEntries
{
    private readonly NodePaths _paths;
    private readonly IJournalCheckpoint _checkpoint;

    public NodeBootEntries(NodePaths paths, IJournalCheckpoint? checkpoint = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        _paths = paths;
        _checkpoint = checkpoint ?? new JournalCheckpoint();
    }

    /// <summary>The entries of the Basalt menu, in menu order.</summary>
    public static IReadOnlyList<string> Entries { get; } = GrubMenu.Create(GrubMenuOptions.Default).Entries.Select(entry => entry.Id).ToList();

    public string GrubEnvironmentPath => _paths.GrubEnvironment;

    /// <summary>The entries and what the next boot will pick (one-shot, else the default).</summary>
    public BootEntryListing List()
    {
        var environment = Load();
        var next = Present(environment.Get(GrubEnvironmentKeys.NextEntry));
        var saved = Present(environment.Get(GrubEnvironmentKeys.SavedEntry));
        var selection = BootAssessment.Select(environment.Variables.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal));
        return new BootEntryListing(_paths.GrubEnvironment, Entries, next, saved ?? GrubMenu.ActiveEntry, selection.Entry);
    }

    /// <summary>Makes the next boot (only) use <paramref name="entry"/>; an unknown entry changes nothing.</summary>
    public BootEntryListing SelectNext(string entry)
    {
        ArgumentException.ThrowIfNullOrEmpty(entry);
        if (!Entries.Contains(entry, StringComparer.Ordinal))
        {
            throw new UnknownNodeBootEntryException(entry, Entries);
        }

        var environment = Load();
        environment.Set(GrubEnvironmentKeys.NextEntry, entry);
        environment.SaveForBoot(_paths.GrubEnvironment, _checkpoint);
        return List();
    }

    private GrubEnvironment Load() =>
        File.Exists(_paths.GrubEnvironment) ? GrubEnvironment.Load(_paths.GrubEnvironment) : throw new GrubEnvironmentMissingException(_paths.GrubEnvironment);

    private static string? Present(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>
/// The menu's entries, the one-shot <paramref name="NextEntry"/>, the default, and the entry the next boot
/// will really use once boot counting has had its say.
/// </summary>
public sealed record BootEntryListing(string GrubEnvironment, IReadOnlyList<string> Entries, string? NextEntry, string DefaultEntry, string NextBootEntry);

public sealed class UnknownNodeBootEntryException : AgentException
{
    public UnknownNodeBootEntryException(string entry, IReadOnlyList<string> entries)
        : base($"there is no boot entry '{entry}'", $"choose one of: {string.Join(", ", entries ?? [])}")
    {
    }

    public override string Kind => "unknown-boot-entry";
}
