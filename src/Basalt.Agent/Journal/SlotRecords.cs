namespace Basalt.Agent.Journal;

/// <summary>
/// What the lifecycle needs of the slots file: what active and passive hold now, and the new arrangement once the
/// images are in place. Writes are atomic and idempotent (a whole table is written), so recovery may repeat them.
/// </summary>
public interface ISlotRecords
{
    JournalSlot? ReadActive();

    JournalSlot? ReadPassive();

    /// <summary>What the recovery slot holds (only ever read here: an upgrade of recovery records it itself).</summary>
    JournalSlot? ReadRecovery();

    /// <summary>Records what active and passive hold; a null slot is one nothing is known about and is left out.</summary>
    Task WriteAsync(JournalSlot? active, JournalSlot? passive, CancellationToken cancellationToken = default);
}

/// <summary><see cref="ISlotRecords"/> on the node's slots file (<see cref="Slots.SlotStore"/>); the recovery slot is kept as it is.</summary>
public sealed class SlotStoreRecords : ISlotRecords
{
    private readonly Slots.SlotStore _store;

    public SlotStoreRecords(Slots.SlotStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    public JournalSlot? ReadActive() => ToJournal(ReadOrEmpty().Active);

    public JournalSlot? ReadPassive() => ToJournal(ReadOrEmpty().Passive);

    public JournalSlot? ReadRecovery() => ToJournal(ReadOrEmpty().Recovery);

    public async Task WriteAsync(JournalSlot? active, JournalSlot? passive, CancellationToken cancellationToken = default)
    {
        var table = await ReadOrEmptyAsync(cancellationToken).ConfigureAwait(false);
        table = active is null ? table.Without(Slots.SlotNames.Active) : table.With(ToSlot(Slots.SlotNames.Active, active));
        table = passive is null ? table.Without(Slots.SlotNames.Passive) : table.With(ToSlot(Slots.SlotNames.Passive, passive));
        await _store.WriteAsync(table, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An unreadable slots file is rewritten rather than blocking the operation that is about to describe the slots anew.</summary>
    private async Task<Slots.SlotTable> ReadOrEmptyAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Slots.SlotsFileUnreadableException)
        {
            return Slots.SlotTable.Empty;
        }
    }

    private Slots.SlotTable ReadOrEmpty()
    {
        try
        {
            return _store.Read();
        }
        catch (Slots.SlotsFileUnreadableException)
        {
            return Slots.SlotTable.Empty;
        }
    }

    private static Slots.SlotInfo ToSlot(string slot, JournalSlot info) =>
        new(slot, info.ImageReference, info.Digest, info.BuildDate, info.WrittenAt);

    private static JournalSlot? ToJournal(Slots.SlotInfo? info) =>
        info is null ? null : new JournalSlot(info.ImageReference, info.Digest, info.BuildDate, info.WrittenAt);
}
