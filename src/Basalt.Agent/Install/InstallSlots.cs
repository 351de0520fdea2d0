using System.Globalization;
using Basalt.Agent.Slots;
using Basalt.Build.Init;

namespace Basalt.Agent.Install;

/// <summary>
/// The slots file an install writes onto COS_STATE with the images (so it exists exactly when they do): active,
/// passive and recovery all hold the installed tree. Without it <c>basalt state</c> on a freshly installed node knows
/// nothing of what its slots hold, and the first upgrade's passive would be anonymous.
/// </summary>
public static class InstallSlots
{
    /// <summary>Where the slots file lies on COS_STATE (<see cref="Node.NodePaths.SlotsFile"/> on a running node).</summary>
    public const string StateTarget = "/cOS/slots.json";

    /// <summary>The image's name as <c>basalt init --image-ref</c> / <c>basalt build image --tag</c> wrote it to os-release.</summary>
    public const string ImageReferenceKey = "BASALT_IMAGE_REF";

    public const string BuildDateKey = "BASALT_BUILD_DATE";

    /// <summary>
    /// What the slots hold after installing <paramref name="tree"/> from <paramref name="source"/>. The reference is the
    /// image asked for when the source is an image, else the name the tree's os-release gives itself (a live medium or
    /// a directory carry no reference of their own), else the source as written; the build date comes from os-release.
    /// No digest is claimed for a tree: the live medium and a directory do not know their manifest's.
    /// </summary>
    public static SlotTable Describe(InstallSource source, string tree, DateTimeOffset writtenAt)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(tree);
        var release = ReadOsRelease(tree);
        var named = release?.Get(ImageReferenceKey) is { Length: > 0 } name ? name : null;
        var reference = source.Kind == InstallSourceKind.Image ? source.Text : named ?? source.Text;
        DateTimeOffset? buildDate = DateTimeOffset.TryParse(release?.Get(BuildDateKey), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date)
            ? date
            : null;
        return Describe(reference, digest: null, buildDate, writtenAt);
    }

    /// <summary>
    /// Every slot (active, passive and recovery, all made from one tree) holding the image <paramref name="reference"/>,
    /// with its manifest <paramref name="digest"/> when known: with it, an upgrade to the same image is a no-op.
    /// </summary>
    public static SlotTable Describe(string reference, string? digest, DateTimeOffset? buildDate, DateTimeOffset writtenAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        return SlotTable.From(SlotNames.All.Select(slot => new SlotInfo(slot, reference, digest, buildDate, writtenAt)));
    }

    private static OsRelease? ReadOsRelease(string tree)
    {
        foreach (var candidate in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            var path = RootedPath.Resolve(tree, candidate);
            try
            {
                if (File.Exists(path))
                {
                    return OsRelease.Parse(File.ReadAllText(path));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // An unreadable os-release leaves the slots named after the source; the install itself does not need it.
            }
        }

        return null;
    }
}
