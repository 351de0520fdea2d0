namespace Basalt.Oci.Layers;

/// <summary>A layer entry would write outside the target (traversal, absolute escape, link escape).</summary>
public sealed class UnsafeLayerEntryException : OciException
{
    public UnsafeLayerEntryException(string layer, string entry, string reason)
        : base($"layer {layer}: entry '{entry}' is unsafe: {reason}",
               "the image is malformed or hostile; nothing was unpacked")
    {
        Layer = layer;
        Entry = entry;
    }

    public string Layer { get; }
    public string Entry { get; }
    public override string Kind => "unsafe-layer-entry";
}

/// <summary>A layer blob is not a readable tar (bad compression, truncated, bad header checksum).</summary>
public sealed class CorruptLayerException : OciException
{
    public CorruptLayerException(string layer, string reason, Exception? inner = null)
        : base($"layer {layer} is corrupt: {reason}", "download the image again; nothing was unpacked", inner)
    {
        Layer = layer;
    }

    public string Layer { get; }
    public override string Kind => "corrupt-layer";
}

/// <summary>A layer uses a tar feature Basalt does not apply (GNU sparse entries, multi-volume, tape headers).</summary>
public sealed class UnsupportedLayerEntryException : OciException
{
    public UnsupportedLayerEntryException(string layer, string entry, string feature)
        : base($"layer {layer}: entry '{entry}' uses {feature}, which Basalt does not support",
               "rebuild the layer without that feature (e.g. without tar --sparse)")
    {
        Layer = layer;
        Entry = entry;
    }

    public string Layer { get; }
    public string Entry { get; }
    public override string Kind => "unsupported-layer-entry";
}

/// <summary>A device node cannot be created because the unpack does not run as root.</summary>
public sealed class DeviceNodeNotPermittedException : OciException
{
    public DeviceNodeNotPermittedException(string layer, string entry)
        : base($"layer {layer}: entry '{entry}' is a device node, which only root can create",
               "run as root, or set SkipDevicesWhenUnprivileged to skip device nodes with a warning")
    {
        Layer = layer;
        Entry = entry;
    }

    public string Layer { get; }
    public string Entry { get; }
    public override string Kind => "device-not-permitted";
}

/// <summary>The unpack target exists and is not empty, and overwriting was not asked for.</summary>
public sealed class UnpackTargetNotEmptyException : OciException
{
    public UnpackTargetNotEmptyException(string target)
        : base($"unpack target '{target}' exists and is not empty", "choose a new directory, remove it, or ask to overwrite")
    {
        Target = target;
    }

    public string Target { get; }
    public override string Kind => "unpack-target-not-empty";
}
