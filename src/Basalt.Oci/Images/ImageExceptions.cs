namespace Basalt.Oci.Images;

/// <summary>A source that exists but cannot serve as an image this way (e.g. a file: that is not a layer tar).</summary>
public sealed class UnsupportedImageSourceException : OciException
{
    public UnsupportedImageSourceException(string source, string problem, string? hint = null)
        : base($"{source}: {problem}", hint)
    {
        ImageSourceText = source;
    }

    public string ImageSourceText { get; }
    public override string Kind => "unsupported-source";
}

/// <summary>A local source (directory, file, tar, layout) that is not there.</summary>
public sealed class ImageSourceNotFoundException : OciException
{
    public ImageSourceNotFoundException(string source, string what)
        : base($"{source}: no such {what}", "check the path; relative paths are taken from the current directory")
    {
        ImageSourceText = source;
    }

    public string ImageSourceText { get; }
    public override string Kind => "source-not-found";
}
