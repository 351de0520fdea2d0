using System.Text.Json.Serialization;

namespace Basalt.Boot.CommandLine;

[JsonConverter(typeof(JsonStringEnumConverter<DeviceReferenceKind>))]
public enum DeviceReferenceKind
{
    /// <summary>Filesystem label (<c>LABEL=</c>; <c>CDLABEL=</c> is the same thing on an ISO).</summary>
    Label,
    /// <summary>Filesystem UUID (<c>UUID=</c>).</summary>
    Uuid,
    /// <summary>GPT partition name (<c>PARTLABEL=</c>).</summary>
    PartitionLabel,
    /// <summary>GPT partition UUID (<c>PARTUUID=</c>).</summary>
    PartitionUuid,
    /// <summary>A device node path (<c>/dev/vda2</c>).</summary>
    Path,
}

/// <summary>How a block device is named on the command line or in a layout: by label, UUID or path.</summary>
public sealed record DeviceReference(DeviceReferenceKind Kind, string Value)
{
    public static DeviceReference Label(string label) => new(DeviceReferenceKind.Label, label);

    /// <summary>Parses <c>LABEL=X</c>, <c>CDLABEL=X</c>, <c>UUID=X</c>, <c>PARTLABEL=X</c>, <c>PARTUUID=X</c> or <c>/dev/…</c>.</summary>
    public static bool TryParse(string text, out DeviceReference? reference)
    {
        ArgumentNullException.ThrowIfNull(text);
        reference = null;
        var separator = text.IndexOf('=', StringComparison.Ordinal);
        if (separator < 0)
        {
            if (text.StartsWith("/dev/", StringComparison.Ordinal) && text.Length > "/dev/".Length)
            {
                reference = new DeviceReference(DeviceReferenceKind.Path, text);
                return true;
            }

            return false;
        }

        var value = text[(separator + 1)..];
        if (value.Length == 0 || value.Any(char.IsWhiteSpace))
        {
            return false;
        }

        DeviceReferenceKind? kind = text[..separator].ToUpperInvariant() switch
        {
            "LABEL" or "CDLABEL" => DeviceReferenceKind.Label,
            "UUID" => DeviceReferenceKind.Uuid,
            "PARTLABEL" => DeviceReferenceKind.PartitionLabel,
            "PARTUUID" => DeviceReferenceKind.PartitionUuid,
            _ => null,
        };
        if (kind is null)
        {
            return false;
        }

        reference = new DeviceReference(kind.Value, value);
        return true;
    }

    /// <summary>The <c>blkid -t</c> / fstab spelling: <c>LABEL=COS_STATE</c>, or the path itself.</summary>
    public string Spec => Kind switch
    {
        DeviceReferenceKind.Label => $"LABEL={Value}",
        DeviceReferenceKind.Uuid => $"UUID={Value}",
        DeviceReferenceKind.PartitionLabel => $"PARTLABEL={Value}",
        DeviceReferenceKind.PartitionUuid => $"PARTUUID={Value}",
        _ => Value,
    };

    public override string ToString() => Spec;
}
