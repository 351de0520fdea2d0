using System.Text.Json;
using System.Text.Json.Serialization;
using Basalt.Platform;

namespace Basalt.Agent.Journal;

/// <summary>
/// The steps of an operation that replaces the active image, in the order they are carried out. The journal
/// names the step about to run; every step up to <see cref="Preparing"/> leaves the installed images as they
/// were (recovery deletes what was prepared), every step after it is completed by recovery.
/// </summary>
public enum SwapStep
{
    /// <summary>Upgrade only: the image is pulled and unpacked into the staging directory on COS_PERSISTENT.</summary>
    Staging,

    /// <summary><c>transition.img</c> is made (built from the staged tree, or copied from passive for a rollback) and flushed.</summary>
    Preparing,

    /// <summary>Boot counting is armed (upgrade) so a new image that cannot boot falls back by itself.</summary>
    Arming,

    /// <summary><c>transition.img</c> and <c>active.img</c> trade places in one rename (RENAME_EXCHANGE).</summary>
    Exchanging,

    /// <summary>The old active, now at <c>transition.img</c>, is labelled COS_PASSIVE.</summary>
    Relabeling,

    /// <summary>The old active is renamed over <c>passive.img</c>.</summary>
    Retiring,

    /// <summary>Upgrade: the new image's GRUB menu is installed; rollback: boot counters are cleared.</summary>
    Finishing,

    /// <summary>The slots file is rewritten for the new arrangement.</summary>
    RecordingSlots,

    /// <summary>The history record is appended.</summary>
    RecordingHistory,
}

/// <summary>What a slot will hold once the operation is done, kept in the journal so recovery writes the same table.</summary>
public sealed record JournalSlot(string ImageReference, string? Digest, DateTimeOffset? BuildDate, DateTimeOffset WrittenAt);

/// <summary>
/// The step journal of an operation that swaps images on COS_STATE (upgrade, rollback): what is being done and
/// everything needed to finish it after a power cut. Written atomically before each step.
/// </summary>
public sealed record SwapJournal
{
    public const int FormatVersion = 1;

    public int Version { get; init; } = FormatVersion;

    /// <summary><see cref="History.LifecycleOperations.Upgrade"/> or <see cref="History.LifecycleOperations.Rollback"/>.</summary>
    public required string Operation { get; init; }

    public required SwapStep Step { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The inode of the complete <c>transition.img</c>; set once <see cref="SwapStep.Preparing"/> is done. It tells
    /// whether the exchange happened: after it, <c>active.img</c> is this inode.</summary>
    public ulong? TransitionInode { get; init; }

    /// <summary>What active holds when the operation is done (null when nothing is known about that image).</summary>
    public required JournalSlot? NewActive { get; init; }

    /// <summary>What passive holds when the operation is done (null when nothing is known about the old active).</summary>
    public JournalSlot? NewPassive { get; init; }

    /// <summary>The digest active held before (for the history).</summary>
    public string? FromDigest { get; init; }

    /// <summary>Upgrade: boot tries armed for the new image.</summary>
    public int BootTries { get; init; }

    /// <summary>Upgrade: where the new tree is staged on COS_PERSISTENT (removed at the end, or by recovery).</summary>
    public string? StagingDirectory { get; init; }

    /// <summary>
    /// Upgrade: the chain ID the staged tree is kept under once the swap is done (see <see cref="Upgrade.KeptTreeStore"/>);
    /// null: the staged tree is deleted. An operation rolled back never keeps it.
    /// </summary>
    public string? KeepTreeAs { get; init; }

    public bool IsPastPreparation => Step > SwapStep.Preparing && TransitionInode is not null;
}

/// <summary>Reads and writes the journal file (<see cref="Node.NodePaths.Journal"/>); every write is atomic and durable.</summary>
public sealed class SwapJournalStore
{
    public SwapJournalStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    public bool Exists => File.Exists(Path);

    public SwapJournal? Read()
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        SwapJournal? journal;
        try
        {
            journal = JsonSerializer.Deserialize(File.ReadAllBytes(Path), JournalJsonContext.Default.SwapJournal);
        }
        catch (JsonException e)
        {
            throw new JournalUnreadableException(Path, $"it is not valid JSON ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new JournalUnreadableException(Path, e.Message, e);
        }

        if (journal is null)
        {
            throw new JournalUnreadableException(Path, "it is empty");
        }

        if (journal.Version != SwapJournal.FormatVersion)
        {
            throw new JournalUnreadableException(Path, $"it has format version {journal.Version}; this basalt reads version {SwapJournal.FormatVersion}");
        }

        return journal;
    }

    public void Write(SwapJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "/");
        AtomicFile.WriteAllBytes(Path, JsonSerializer.SerializeToUtf8Bytes(journal, JournalJsonContext.Default.SwapJournal));
    }

    /// <summary>The operation is over: the journal goes, durably.</summary>
    public void Delete()
    {
        if (!File.Exists(Path))
        {
            return;
        }

        File.Delete(Path);
        Posix.SyncParent(Path);
    }
}

public sealed class JournalUnreadableException : AgentException
{
    public JournalUnreadableException(string path, string reason, Exception? inner = null)
        : base(
            $"the lifecycle journal {path} cannot be read: {reason}",
            "an earlier upgrade or rollback was interrupted; check that active.img and passive.img on COS_STATE are whole, then remove the journal file",
            inner)
    {
    }

    public override string Kind => "journal-unreadable";
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    MaxDepth = 16)]
[JsonSerializable(typeof(SwapJournal))]
internal sealed partial class JournalJsonContext : JsonSerializerContext;
