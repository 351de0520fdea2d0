using System.Globalization;
using Basalt.Agent.Slots;
using Basalt.Boot.CommandLine;
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
    /// The slots file a live medium built from an image carries beside its squashfs (<c>basalt build iso IMAGE</c>,
    /// <c>basalt build netboot IMAGE</c>): it names the image the squashfs holds, with its digest.
    /// </summary>
    public const string MediumFileName = BootKeys.LiveSlots;

    /// <summary>Where <see cref="MediumFileName"/> lies for <paramref name="squashfs"/>, the medium's root image.</summary>
    public static string BesideSquashfs(string squashfs)
    {
        ArgumentException.ThrowIfNullOrEmpty(squashfs);
        return Path.Combine(Path.GetDirectoryName(squashfs) ?? "/", MediumFileName);
    }

    /// <summary>
    /// What the slots hold after installing <paramref name="tree"/> from <paramref name="source"/>. The reference is the
    /// image asked for when the source is an image, else the name the tree's os-release gives itself (a live medium or
    /// a directory carry no reference of their own), else the source as written; the build date comes from os-release.
    /// No digest is claimed for a tree, unless the live medium the running system came from names its image in
    /// <paramref name="mediumSlotsFile"/> (<see cref="MediumFileName"/>): then the slots hold that image, by digest, so
    /// an upgrade to it is a no-op. An unreadable medium file is passed over: the install does not depend on it.
    /// </summary>
    public static SlotTable Describe(InstallSource source, string tree, DateTimeOffset writtenAt, string? mediumSlotsFile = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(tree);
        if (source.Kind == InstallSourceKind.RunningSystem && mediumSlotsFile is not null && ReadMediumImage(mediumSlotsFile) is { } medium)
        {
            return Describe(medium.ImageReference, medium.Digest, medium.BuildDate, writtenAt);
        }

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

    private static SlotInfo? ReadMediumImage(string path)
    {
        try
        {
            return new SlotStore(path).Read().Active is { ImageReference.Length: > 0 } active ? active : null;
        }
        catch (SlotsFileUnreadableException)
        {
            return null;
        }
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
