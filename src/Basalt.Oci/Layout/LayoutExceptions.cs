using Basalt.Oci.Model;

namespace Basalt.Oci.Layout;

/// <summary>An OCI layout directory, OCI layout tar or docker archive is not what it claims to be.</summary>
public sealed class MalformedLayoutException : OciException
{
    public MalformedLayoutException(string location, string problem, string? hint = null, Exception? inner = null)
        : base($"{location}: {problem}", hint ?? "check that it was written by `basalt image save`, `skopeo copy … oci:`, `umoci` or `docker save`", inner)
    {
        Location = location;
    }

    public string Location { get; }
    public override string Kind => "malformed-layout";
}

/// <summary>The layout has no manifest under the tag asked for; the message lists the tags it has.</summary>
public sealed class LayoutTagNotFoundException : OciException
{
    public LayoutTagNotFoundException(string location, string? tag, IReadOnlyList<string> available)
        : base(
            tag is null
                ? $"{location} holds {available.Count} images; say which one"
                : $"{location} has no image tagged '{tag}'",
            available.Count == 0
                ? "the layout has no tagged images"
                : $"tags present: {string.Join(", ", available)}")
    {
        Location = location;
        Tag = tag;
        Available = available;
    }

    public string Location { get; }
    public string? Tag { get; }
    public IReadOnlyList<string> Available { get; }
    public override string Kind => "tag-not-found";
}

/// <summary>A manifest names a blob the layout or archive does not contain.</summary>
public sealed class LayoutBlobMissingException : OciException
{
    public LayoutBlobMissingException(string location, string what)
        : base($"{location}: {what} is missing", "the layout or archive is incomplete; write it again")
    {
        Location = location;
    }

    public string Location { get; }
    public override string Kind => "blob-missing";
}

/// <summary>An archive entry's name would reach outside the archive (.., absolute, escaping symlink).</summary>
public sealed class UnsafeArchiveEntryException : OciException
{
    public UnsafeArchiveEntryException(string location, string entry, string reason)
        : base($"{location}: entry '{entry}' {reason}", "refusing to read a hostile archive; get the image from a trusted source")
    {
        Location = location;
        Entry = entry;
    }

    public string Location { get; }
    public string Entry { get; }
    public override string Kind => "unsafe-archive-entry";
}

/// <summary>Content written into a layout did not match the descriptor it was written under.</summary>
public sealed class LayoutBlobSizeException : OciException
{
    public LayoutBlobSizeException(Digest digest, long expected, long actual)
        : base($"blob {digest}: expected {expected} bytes but got {actual}", "the source is truncated or corrupted; nothing was kept")
    {
    }

    public override string Kind => "size-mismatch";
}
