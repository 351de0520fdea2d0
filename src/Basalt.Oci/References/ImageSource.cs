using System.Diagnostics.CodeAnalysis;

namespace Basalt.Oci.References;

/// <summary>
/// Where an image (for pull, unpack, install or upgrade) comes from. The text forms are the
/// Kairos upgrade sources plus an OCI layout directory:
/// <list type="bullet">
/// <item><c>oci:REF</c> (or <c>docker:REF</c>, or a bare <c>REF</c>): an image in a registry.</item>
/// <item><c>dir:PATH</c>: a directory tree used as the root filesystem as it is.</item>
/// <item><c>file:PATH</c>: a filesystem image file (squashfs, ext4 …) copied as it is.</item>
/// <item><c>ocifile:TAR</c>: a tar of an OCI image layout, or a <c>docker save</c> tar.</item>
/// <item><c>oci-layout:DIR[:TAG]</c>: an OCI image layout directory; TAG (default <c>latest</c>) is
/// the <c>org.opencontainers.image.ref.name</c> of the wanted image in its <c>index.json</c>.</item>
/// </list>
/// A known prefix always wins, so a registry literally named <c>dir</c> needs <c>oci:dir:5000/…</c>.
/// Paths are kept as written (relative paths resolve against the working directory when used).
/// In <c>oci-layout:</c>, the text after the last ':' is the tag unless it contains a '/'; a directory
/// whose last segment contains ':' is written with an explicit tag: <c>oci-layout:/srv/a:b:latest</c>.
/// <see cref="ToString"/> always writes the prefix (and the tag), so it parses back to an equal value.
/// </summary>
public abstract record ImageSource
{
    public const string RegistryPrefix = "oci:";
    public const string DockerPrefix = "docker:";
    public const string DirectoryPrefix = "dir:";
    public const string FilePrefix = "file:";
    public const string ArchivePrefix = "ocifile:";
    public const string LayoutPrefix = "oci-layout:";

    /// <summary>The accepted forms, for help texts and error messages.</summary>
    public const string AcceptedForms =
        "oci:REF (or a bare REF, e.g. docker.io/library/debian:bookworm), dir:PATH, file:PATH, ocifile:TAR, oci-layout:DIR[:TAG]";

    private protected ImageSource()
    {
    }

    /// <summary>The prefix <see cref="ToString"/> writes, e.g. <c>oci:</c>.</summary>
    public abstract string Prefix { get; }

    public static ImageSource Parse(string text)
    {
        if (!TryParse(text, out var source, out var error))
        {
            throw new InvalidSourceException(text, error);
        }

        return source;
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out ImageSource? source) =>
        TryParse(text, out source, out _);

    public static bool TryParse(
        [NotNullWhen(true)] string? text,
        [NotNullWhen(true)] out ImageSource? source,
        out string error)
    {
        source = null;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the source is empty";
            return false;
        }

        if (StripPrefix(text, RegistryPrefix, out var rest) || StripPrefix(text, DockerPrefix, out rest))
        {
            return TryRegistry(rest, out source, out error);
        }

        if (StripPrefix(text, DirectoryPrefix, out rest))
        {
            return TryPath(rest, "directory", p => new DirectorySource(p), out source, out error);
        }

        if (StripPrefix(text, FilePrefix, out rest))
        {
            return TryPath(rest, "file", p => new FileSource(p), out source, out error);
        }

        if (StripPrefix(text, ArchivePrefix, out rest))
        {
            return TryPath(rest, "archive", p => new ArchiveSource(p), out source, out error);
        }

        if (StripPrefix(text, LayoutPrefix, out rest))
        {
            return TryLayout(rest, out source, out error);
        }

        if (ImageReference.TryParse(text, out var reference, out var referenceError))
        {
            source = new RegistrySource(reference);
            return true;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        error = colon > 0 && (slash < 0 || colon < slash) && char.IsAsciiLetter(text[0]) && text[..colon].All(char.IsAsciiLetterOrDigit)
            ? $"'{text[..(colon + 1)]}' is not a known source prefix, and as a registry reference: {referenceError}"
            : $"not a registry reference: {referenceError}";
        return false;
    }

    private static bool StripPrefix(string text, string prefix, out string rest)
    {
        if (text.StartsWith(prefix, StringComparison.Ordinal))
        {
            rest = text[prefix.Length..];
            return true;
        }

        rest = text;
        return false;
    }

    private static bool TryRegistry(string text, out ImageSource? source, out string error)
    {
        source = null;
        if (!ImageReference.TryParse(text, out var reference, out var referenceError))
        {
            error = $"'{text}' is not a registry reference: {referenceError}";
            return false;
        }

        source = new RegistrySource(reference);
        error = string.Empty;
        return true;
    }

    private static bool TryPath(string path, string what, Func<string, ImageSource> create, out ImageSource? source, out string error)
    {
        source = null;
        if (PathError(path, what) is { } pathError)
        {
            error = pathError;
            return false;
        }

        source = create(path);
        error = string.Empty;
        return true;
    }

    private static bool TryLayout(string text, out ImageSource? source, out string error)
    {
        source = null;
        var directory = text;
        var tag = ImageReference.DefaultTag;
        var colon = text.LastIndexOf(':');
        if (colon >= 0 && !text[(colon + 1)..].Contains('/', StringComparison.Ordinal))
        {
            directory = text[..colon];
            tag = text[(colon + 1)..];
            if (!OciLayoutSource.IsValidTag(tag))
            {
                error = $"'{tag}' after the last ':' is not a valid tag (letters, digits, '_', '.', '-', at most " +
                        $"{ImageReference.MaxTagLength}, not starting with '.' or '-'); for a directory whose name " +
                        "contains ':' add the tag explicitly, e.g. oci-layout:/srv/a:b:latest";
                return false;
            }
        }

        if (PathError(directory, "layout directory") is { } pathError)
        {
            error = pathError;
            return false;
        }

        source = new OciLayoutSource(directory, tag);
        error = string.Empty;
        return true;
    }

    private static string? PathError(string path, string what)
    {
        if (path.Length == 0)
        {
            return $"the {what} path is empty";
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return $"the {what} path contains a NUL character";
        }

        return null;
    }
}

/// <summary><c>oci:REF</c>: an image in a registry.</summary>
public sealed record RegistrySource : ImageSource
{
    public RegistrySource(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
    }

    public ImageReference Reference { get; }

    public override string Prefix => RegistryPrefix;

    public override string ToString() => RegistryPrefix + Reference;
}

/// <summary><c>dir:PATH</c>: a directory tree used as the root filesystem as it is.</summary>
public sealed record DirectorySource : ImageSource
{
    public DirectorySource(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    public override string Prefix => DirectoryPrefix;

    public override string ToString() => DirectoryPrefix + Path;
}

/// <summary><c>file:PATH</c>: a filesystem image file (squashfs, ext4 …) copied as it is.</summary>
public sealed record FileSource : ImageSource
{
    public FileSource(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    public override string Prefix => FilePrefix;

    public override string ToString() => FilePrefix + Path;
}

/// <summary>
/// <c>ocifile:TAR</c>: a tar holding an OCI image layout, or a <c>docker save</c> tar; which one is
/// decided by the reader from the tar's content (<c>oci-layout</c> or <c>manifest.json</c>).
/// </summary>
public sealed record ArchiveSource : ImageSource
{
    public ArchiveSource(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    public string Path { get; }

    public override string Prefix => ArchivePrefix;

    public override string ToString() => ArchivePrefix + Path;
}

/// <summary><c>oci-layout:DIR[:TAG]</c>: the image tagged TAG in an OCI image layout directory.</summary>
public sealed record OciLayoutSource : ImageSource
{
    public OciLayoutSource(string directory, string tag = ImageReference.DefaultTag)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!IsValidTag(tag))
        {
            throw new ArgumentException($"'{tag}' is not a valid tag", nameof(tag));
        }

        Directory = directory;
        Tag = tag;
    }

    public string Directory { get; }

    /// <summary>The <c>org.opencontainers.image.ref.name</c> annotation to look for in index.json.</summary>
    public string Tag { get; }

    public override string Prefix => LayoutPrefix;

    public override string ToString() => $"{LayoutPrefix}{Directory}:{Tag}";

    internal static bool IsValidTag(string tag) =>
        tag.Length is > 0 and <= ImageReference.MaxTagLength
        && (char.IsAsciiLetterOrDigit(tag[0]) || tag[0] == '_')
        && tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
}
