using Basalt.Oci.Model;
using Basalt.Oci.Store;
using Microsoft.Extensions.Logging;

namespace Basalt.Agent.Upgrade;

/// <summary>
/// What the node's blob store (on COS_PERSISTENT, filled by upgrades only) keeps once an upgrade has succeeded: the
/// images the slots hold. The new active's blobs let the next upgrade fetch only what it adds; the passive's and the
/// recovery's serve an upgrade back to them. The image the upgrade retired and whatever failed upgrades fetched go,
/// so a node that upgrades every week does not fill COS_PERSISTENT with images it will never run again.
/// </summary>
public static class SlotBlobRetention
{
    /// <summary>
    /// Removes the blobs that none of <paramref name="slotDigests"/> (manifest digests; null for a slot whose image is
    /// unknown) reaches, and the names of images removed. Blobs written within the store's grace period are spared (a
    /// pull running beside this one). With no known digest at all nothing is removed: the store cannot tell what the
    /// slots need.
    /// </summary>
    public static PruneResult Trim(BlobStore store, IEnumerable<string?> slotDigests)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(slotDigests);
        var roots = slotDigests.Select(text => Digest.TryParse(text, out var digest) ? digest : (Digest?)null).OfType<Digest>().Distinct().ToList();
        return roots.Count == 0 ? new PruneResult([], [], [], 0) : store.Prune(PrunePolicy.KeepingOnly(roots));
    }

    /// <summary>
    /// <see cref="Trim"/> to the images of the three slots once an upgrade (of active or of recovery) is done and
    /// recorded. Without active's digest nothing is removed: the store cannot tell which blobs the running system's next
    /// upgrade can reuse. A failure here costs only space, never the upgrade, so it is logged and reported as nothing
    /// removed.
    /// </summary>
    public static PruneResult TrimAfterUpgrade(BlobStore store, string? activeDigest, string? passiveDigest, string? recoveryDigest, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (activeDigest is null)
        {
            return new PruneResult([], [], [], 0);
        }

        try
        {
            var result = Trim(store, [activeDigest, passiveDigest, recoveryDigest]);
            if (result.RemovedBlobs.Count > 0)
            {
                logger.LogInformation("removed {Count} blobs ({Bytes} bytes) of images no slot holds", result.RemovedBlobs.Count, result.BytesFreed);
            }

            return result;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("could not remove the blobs of images no slot holds: {Message}", e.Message);
            return new PruneResult([], [], [], 0);
        }
    }
}
