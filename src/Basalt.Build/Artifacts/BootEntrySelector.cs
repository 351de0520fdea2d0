using Basalt.Boot.Grub;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.Build.Artifacts;

/// <summary>
/// Offline edits of a Basalt disk's grubenv (<see cref="GrubPaths.Environment"/> on COS_OEM), for
/// <c>basalt bootentry --disk disk.raw --select ENTRY</c>: the menu boots <c>next_entry</c> once, then clears it.
/// </summary>
public sealed class BootEntrySelector
{
    private readonly IToolRunner _runner;

    public BootEntrySelector(IToolRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
    }

    /// <summary>The entries the Basalt menu has, in menu order.</summary>
    public static IReadOnlyList<string> Entries { get; } = GrubMenu.Create(GrubMenuOptions.Default).Entries.Select(entry => entry.Id).ToList();

    /// <summary>The disk's grubenv; an empty block when COS_OEM has none yet.</summary>
    public async Task<GrubEnvironment> ReadAsync(string disk, CancellationToken cancellationToken = default)
    {
        var partition = OfflineExt4Partition.Open(_runner, disk, KairosLayout.OemLabel);
        var bytes = await partition.ReadFileAsync(GrubPaths.Environment, cancellationToken).ConfigureAwait(false);
        return bytes is null ? GrubEnvironment.Create() : GrubEnvironment.Parse(bytes, $"{disk}:{KairosLayout.OemLabel}{GrubPaths.Environment}");
    }

    /// <summary>Reads the grubenv, applies <paramref name="edit"/> and writes the block back; returns it as written.</summary>
    public async Task<GrubEnvironment> EditAsync(string disk, Action<GrubEnvironment> edit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var partition = OfflineExt4Partition.Open(_runner, disk, KairosLayout.OemLabel);
        var bytes = await partition.ReadFileAsync(GrubPaths.Environment, cancellationToken).ConfigureAwait(false);
        var environment = bytes is null ? GrubEnvironment.Create() : GrubEnvironment.Parse(bytes, $"{disk}:{KairosLayout.OemLabel}{GrubPaths.Environment}");
        edit(environment);
        await partition.WriteFileAsync(GrubPaths.Environment, environment.ToBytes(), cancellationToken).ConfigureAwait(false);
        return environment;
    }

    /// <summary>Makes the next boot (only) use <paramref name="entry"/> (cos, fallback, recovery, statereset).</summary>
    public Task<GrubEnvironment> SelectNextAsync(string disk, string entry, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(entry);
        if (!Entries.Contains(entry, StringComparer.Ordinal))
        {
            throw new UnknownBootEntryException(entry, Entries);
        }

        return EditAsync(disk, environment => environment.Set(GrubEnvironmentKeys.NextEntry, entry), cancellationToken);
    }
}
