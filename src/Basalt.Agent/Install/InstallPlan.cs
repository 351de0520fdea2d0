using System.Globalization;
using System.Text;
using System.Text.Json;
using Basalt.Build.Artifacts;
using Basalt.Config.Model;
using Basalt.Config.Stages;
using Basalt.Disk;
using Basalt.Disk.Layout;
using Basalt.Oci.References;

namespace Basalt.Agent.Install;

/// <summary>What the node does once an action is done.</summary>
public enum PowerAction
{
    None,
    Reboot,
    Poweroff,
}

public enum InstallSourceKind
{
    /// <summary>The running system's root filesystem (bind-mounted without what is mounted below it).</summary>
    RunningSystem,

    /// <summary>A directory tree (<c>dir:PATH</c>).</summary>
    Directory,

    /// <summary>An OCI image (<c>oci:</c>, <c>ocifile:</c>, <c>oci-layout:</c>), unpacked before the disk is written.</summary>
    Image,
}

/// <summary>Where the installed system comes from. <see cref="Image"/> is set for <see cref="InstallSourceKind.Image"/>.</summary>
public sealed record InstallSource(InstallSourceKind Kind, string Text, string? Path = null, ImageSource? Image = null)
{
    public static InstallSource RunningSystem { get; } = new(InstallSourceKind.RunningSystem, "running system (/)", "/");

    /// <summary>Reads <c>--source</c> / <c>install.source</c>: <c>dir:</c>, <c>oci:</c>, <c>ocifile:</c>, <c>oci-layout:</c> or a bare reference.</summary>
    public static InstallSource Parse(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        ImageSource parsed;
        try
        {
            parsed = ImageSource.Parse(text);
        }
        catch (Oci.OciException exception)
        {
            throw new UnsupportedInstallSettingException("install source", exception.Message, "use dir:PATH, oci:REF, ocifile:TAR or oci-layout:DIR[:TAG]");
        }

        return parsed switch
        {
            DirectorySource directory => new InstallSource(InstallSourceKind.Directory, parsed.ToString(), System.IO.Path.GetFullPath(directory.Path)),
            FileSource => throw new UnsupportedInstallSettingException("install source", $"'{text}' is a filesystem image file, which install does not deploy", "unpack it and use dir:PATH, or use an OCI image"),
            _ => new InstallSource(InstallSourceKind.Image, parsed.ToString(), Image: parsed),
        };
    }
}

/// <summary>What <c>basalt install</c> is asked: the merged config plus what the command line overrides.</summary>
public sealed record InstallRequest
{
    /// <summary>The merged cloud-config (its <c>install</c> section is read).</summary>
    public CloudConfig Config { get; init; } = new();

    /// <summary><c>--device</c>; wins over <c>install.device</c>. <c>auto</c> picks the largest non-removable disk.</summary>
    public string? Device { get; init; }

    /// <summary><c>--source</c>; wins over <c>install.source</c>. Null: the running system.</summary>
    public string? Source { get; init; }

    /// <summary><c>--force</c> (or <c>install.force</c>): install even onto a disk holding mounted filesystems.</summary>
    public bool Force { get; init; }

    /// <summary>The sources whose lifecycle stages run around the install.</summary>
    public IReadOnlyList<StageSource> StageSources { get; init; } = [];

    /// <summary>The merged cloud-config as YAML text, written to COS_OEM so the installed node has it; null: none.</summary>
    public string? CloudConfigText { get; init; }

    /// <summary>Where images are made and a source is unpacked before the disk is written.</summary>
    public string WorkDirectory { get; init; } = System.IO.Path.GetTempPath();

    /// <summary>Every GUID of the new disk derives from this; null: a fresh one per install, so no two nodes share UUIDs.</summary>
    public string? Seed { get; init; }

    /// <summary>GRUB x86_64-efi module directory; null: the source tree's own, else the host's.</summary>
    public string? GrubModulesDirectory { get; init; }

    /// <summary>
    /// The squashfs the running live system was booted from; with the running system as source (and no
    /// after-install-chroot step changing the tree) it becomes the recovery image as it is.
    /// </summary>
    public string? LiveSquashfsPath { get; init; }

    /// <summary>Copy the image's blobs into the new node's blob store on COS_PERSISTENT (an image source only).</summary>
    public bool SeedBlobs { get; init; }
}

/// <summary>
/// Everything an install will do, decided before anything is written: the target and why it was chosen, the source,
/// the partition settings, the disk (placed layout and images) when the source is a local tree, the stages and what
/// happens afterwards. Printed by <c>basalt install --dry-run</c>; carried out by <see cref="InstallExecutor"/>.
/// </summary>
public sealed record InstallPlan
{
    public const string CloudConfigFileName = DiskArtifactPlan.CloudConfigName;

    public required string Device { get; init; }

    public required long DeviceBytes { get; init; }

    public required bool DeviceChosenAutomatically { get; init; }

    /// <summary>Mount points on the target that --force overrode (empty when it holds none).</summary>
    public required IReadOnlyList<string> ForcedOverMounts { get; init; }

    public required InstallSource Source { get; init; }

    public required KairosPartitionSettings Partitions { get; init; }

    public required string Seed { get; init; }

    /// <summary>The disk as it will be written; null when the source must be fetched first (then it is planned after unpacking, before writing).</summary>
    public DiskArtifactPlan? Disk { get; init; }

    /// <summary>Steps of each lifecycle stage of an install, in the order they run.</summary>
    public required IReadOnlyList<(string Stage, int Steps)> Stages { get; init; }

    public required PowerAction After { get; init; }

    public required string WorkDirectory { get; init; }

    public string? CloudConfigText { get; init; }

    public string? GrubModulesDirectory { get; init; }

    /// <summary>A squashfs of the source tree reused as the recovery image (installing from a live medium); null: one is made.</summary>
    public string? RecoverySquashfsPath { get; init; }

    /// <summary>
    /// The live medium's slots file (<see cref="InstallSlots.MediumFileName"/>) naming the image the running system was
    /// booted from, by digest; null: none (a medium built from a tree, or not a live boot).
    /// </summary>
    public string? MediumSlotsPath { get; init; }

    /// <summary>The image's blobs go into the new node's blob store, so its first upgrade fetches only what the next image adds.</summary>
    public bool SeedBlobs { get; init; }

    public int StepsOf(string stage) => Stages.FirstOrDefault(entry => entry.Stage == stage).Steps;

    /// <summary>The actions in order, as the executor carries them out.</summary>
    public IReadOnlyList<string> Steps
    {
        get
        {
            var steps = new List<string> { $"run stage before-install ({StepsOf("before-install")} steps)" };
            steps.Add(Source.Kind switch
            {
                InstallSourceKind.RunningSystem => "bind-mount / read-only (without the filesystems mounted below it) as the source tree"
                    + (MediumSlotsPath is { } named ? $"; record the slots as the image {named} names" : string.Empty),
                InstallSourceKind.Image => $"unpack {Source.Text} into the work directory" + (SeedBlobs ? "; copy its blobs into COS_PERSISTENT's blob store (.basalt/blobs)" : string.Empty),
                _ => $"use the tree {Source.Path}",
            });
            if (StepsOf("after-install-chroot") > 0)
            {
                steps.Add($"run stage after-install-chroot ({StepsOf("after-install-chroot")} steps) in a copy of the tree");
            }

            steps.Add(RecoverySquashfsPath is { } squashfs
                ? $"make active.img, passive.img and the EFI loader in {WorkDirectory}; copy {squashfs} as recovery.squashfs"
                : $"make active.img, passive.img, recovery.squashfs and the EFI loader in {WorkDirectory}");
            steps.Add($"write the GPT and every partition onto {Device}" + (CloudConfigText is null ? string.Empty : $", the merged cloud-config to COS_OEM:/{CloudConfigFileName}") + ", the install record to COS_PERSISTENT");
            steps.Add($"run stage after-install ({StepsOf("after-install")} steps)");
            if (After != PowerAction.None)
            {
                steps.Add(After == PowerAction.Reboot ? "reboot (systemctl reboot)" : "power off (systemctl poweroff)");
            }

            return steps;
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        var how = DeviceChosenAutomatically ? " (install.device: auto)" : string.Empty;
        text.Append(CultureInfo.InvariantCulture, $"install onto {Device}{how}, {ByteSize.Format(DeviceBytes)}\n");
        if (ForcedOverMounts.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"forced: the disk holds {string.Join(", ", ForcedOverMounts)}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"source: {Source.Text}\n");
        foreach (var (label, bytes) in Partitions.Sizes.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"requested {label}: {ByteSize.Format(bytes)}\n");
        }

        foreach (var extra in Partitions.Extra)
        {
            var size = extra.SizeBytes is { } bytes ? ByteSize.Format(bytes) : "rest of the disk";
            text.Append(CultureInfo.InvariantCulture, $"extra partition {extra.Label}: {extra.FileSystem.ToString().ToLowerInvariant()}, {size}\n");
        }

        if (Disk is { } disk)
        {
            text.Append(CultureInfo.InvariantCulture, $"disk {ByteSize.Format(disk.Layout.DiskBytes)}, GPT {disk.Layout.DiskGuid}, seed '{Seed}'\n");
            foreach (var partition in disk.Layout.Partitions)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"  {partition.Number} {partition.Label,-15} {partition.Spec.FileSystem.ToString().ToLowerInvariant(),-6} {ByteSize.Format(partition.SizeBytes),10}  label {partition.FileSystemLabel}\n");
            }
        }
        else
        {
            text.Append("disk: laid out once the source is unpacked, before anything is written\n");
        }

        text.Append("steps:\n");
        var number = 1;
        foreach (var step in Steps)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {number++}. {step}\n");
        }

        return text.ToString();
    }

    /// <summary>The plan as JSON (written by hand: trim-safe, no reflection).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("device", Device);
            json.WriteNumber("deviceBytes", DeviceBytes);
            json.WriteBoolean("deviceChosenAutomatically", DeviceChosenAutomatically);
            json.WriteStartArray("forcedOverMounts");
            foreach (var mount in ForcedOverMounts)
            {
                json.WriteStringValue(mount);
            }

            json.WriteEndArray();
            json.WriteStartObject("source");
            json.WriteString("kind", Source.Kind.ToString().ToLowerInvariant());
            json.WriteString("text", Source.Text);
            json.WriteEndObject();
            json.WriteBoolean("seedBlobs", SeedBlobs);
            json.WriteString("seed", Seed);
            json.WriteStartArray("partitions");
            if (Disk is { } disk)
            {
                foreach (var partition in disk.Layout.Partitions)
                {
                    json.WriteStartObject();
                    json.WriteNumber("number", partition.Number);
                    json.WriteString("label", partition.Label);
                    json.WriteString("fileSystem", partition.Spec.FileSystem.ToString().ToLowerInvariant());
                    json.WriteString("fileSystemLabel", partition.FileSystemLabel);
                    json.WriteNumber("offsetBytes", partition.OffsetBytes);
                    json.WriteNumber("sizeBytes", partition.SizeBytes);
                    json.WriteEndObject();
                }
            }

            json.WriteEndArray();
            json.WriteStartObject("stages");
            foreach (var (stage, steps) in Stages)
            {
                json.WriteNumber(stage, steps);
            }

            json.WriteEndObject();
            json.WriteString("after", After.ToString().ToLowerInvariant());
            json.WriteBoolean("writesCloudConfig", CloudConfigText is not null);
            json.WriteStartArray("steps");
            foreach (var step in Steps)
            {
                json.WriteStringValue(step);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
