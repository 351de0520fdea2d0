using Basalt.Disk;

namespace Basalt.Build.Artifacts;

/// <summary>The ISO cannot be written where asked (a directory, a missing or read-only directory).</summary>
public sealed class InvalidIsoOutputException : BuildException
{
    public InvalidIsoOutputException(string path, string reason)
        : base($"cannot write the ISO to '{path}': {reason}", "pass -o with a file path in an existing, writable directory")
    {
        Path = path;
    }

    public string Path { get; }
    public override string Kind => "invalid-output";
}

/// <summary>The ISO is larger than the medium it is meant for.</summary>
public sealed class IsoTooLargeException : BuildException
{
    public IsoTooLargeException(string path, long sizeBytes, long maxBytes)
        : base($"the ISO '{path}' needs {ByteSize.Format(sizeBytes)}, more than the {ByteSize.Format(maxBytes)} the medium holds",
               "use a larger medium (--max-size), or make the image smaller (fewer packages)")
    {
        Path = path;
        SizeBytes = sizeBytes;
        MaxBytes = maxBytes;
    }

    public string Path { get; }
    public long SizeBytes { get; }
    public long MaxBytes { get; }
    public override string Kind => "iso-too-large";
}
