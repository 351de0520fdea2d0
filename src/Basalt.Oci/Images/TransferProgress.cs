using Basalt.Oci.Model;

namespace Basalt.Oci.Images;

/// <summary>What is being done to a blob.</summary>
public enum TransferPhase
{
    /// <summary>Copied into the blob store from a registry or a local layout.</summary>
    Pulling,

    /// <summary>Uploaded to a registry.</summary>
    Pushing,

    /// <summary>Applied into a directory tree.</summary>
    Unpacking,

    /// <summary>Written into an OCI layout directory, or built from a local directory or file.</summary>
    Writing,
}

public enum TransferState
{
    Running,
    Done,

    /// <summary>Nothing to do: the blob was already where it had to go.</summary>
    Skipped,
}

/// <summary>
/// One step of progress on one blob. <see cref="Total"/> is the blob's size (0 when unknown);
/// <see cref="Completed"/> the bytes done so far. Every blob ends with a Done or Skipped update.
/// </summary>
public sealed record TransferUpdate(TransferPhase Phase, Digest Digest, long Completed, long Total, TransferState State)
{
    public string PhaseName => NameOf(Phase);

    public static string NameOf(TransferPhase phase) => phase switch
    {
        TransferPhase.Pulling => "pulling",
        TransferPhase.Pushing => "pushing",
        TransferPhase.Unpacking => "unpacking",
        _ => "writing",
    };
}
