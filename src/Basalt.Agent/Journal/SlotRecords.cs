namespace Basalt.Agent.Journal;

/// <summary>
/// What the lifecycle needs of the slots file: what active and passive hold now, and the new arrangement once the
/// images are in place. Writes are atomic and idempotent (a whole table is written), so recovery may repeat them.
/// </summary>
public interface ISlotRecords
{
    JournalSlot? ReadActive();

    JournalSlot? ReadPassive();

    Task WriteAsync(JournalSlot active, JournalSlot? passive, CancellationToken cancellationToken = default);
}
