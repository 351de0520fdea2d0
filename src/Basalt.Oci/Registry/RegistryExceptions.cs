using System.Net;
using Basalt.Oci.Model;
using Basalt.Oci.References;

namespace Basalt.Oci.Registry;

/// <summary>The registry could not be reached at all: connection refused, unknown host, TLS failure.</summary>
public sealed class RegistryUnreachableException : OciException
{
    public RegistryUnreachableException(string registry, Uri endpoint, string reason, string hint, Exception? inner = null)
        : base($"cannot reach registry {registry} at {endpoint}: {reason}", hint, inner)
    {
        Registry = registry;
    }

    public string Registry { get; }

    public override string Kind => "registry-unreachable";
}

/// <summary>The registry refused us after authentication was tried (401/403), or the token service did.</summary>
public sealed class RegistryAuthenticationException : OciException
{
    public RegistryAuthenticationException(string registry, string message, string credentialSource, Exception? inner = null)
        : base($"registry {registry}: {message} (credentials: {credentialSource})",
               "check the username/password for this registry in the auth file (REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json or ~/.docker/config.json), and that the account may access the repository",
               inner)
    {
        Registry = registry;
        CredentialSource = credentialSource;
    }

    public string Registry { get; }

    /// <summary>Where the credentials came from, or which files were searched when none were found.</summary>
    public string CredentialSource { get; }

    public override string Kind => "registry-auth";
}

/// <summary>A credentials file exists but cannot be read or understood.</summary>
public sealed class RegistryAuthFileException : OciException
{
    public RegistryAuthFileException(string path, string reason, Exception? inner = null)
        : base($"cannot use registry credentials file {path}: {reason}",
               "fix the file (docker config.json format: {\"auths\": {\"HOST\": {\"auth\": \"base64(user:pass)\"}}}) or point REGISTRY_AUTH_FILE elsewhere",
               inner)
    {
        Path = path;
    }

    public string Path { get; }

    public override string Kind => "registry-auth-file";
}

public sealed class ManifestNotFoundException : OciException
{
    public ManifestNotFoundException(ImageReference reference, string? registryMessage)
        : base($"manifest {reference} not found{Suffix(registryMessage)}",
               "check the repository name and the tag or digest (basalt lists tags with the registry's tag list)")
    {
        Reference = reference;
    }

    public ImageReference Reference { get; }

    public override string Kind => "manifest-not-found";

    internal static string Suffix(string? registryMessage) =>
        string.IsNullOrEmpty(registryMessage) ? string.Empty : $" (registry says: {registryMessage})";
}

public sealed class BlobNotFoundException : OciException
{
    public BlobNotFoundException(ImageReference repository, Digest digest, string? registryMessage)
        : base($"blob {digest} not found in {repository.Registry}/{repository.Repository}{ManifestNotFoundException.Suffix(registryMessage)}",
               "the image's manifest points at a blob the registry does not have; the image is incomplete, push it again")
    {
        Repository = repository;
        BlobDigest = digest;
    }

    public ImageReference Repository { get; }

    public Digest BlobDigest { get; }

    public override string Kind => "blob-not-found";
}

public sealed class RepositoryNotFoundException : OciException
{
    public RepositoryNotFoundException(ImageReference repository, string? registryMessage)
        : base($"repository {repository.Registry}/{repository.Repository} not found{ManifestNotFoundException.Suffix(registryMessage)}",
               "check the repository name")
    {
        Repository = repository;
    }

    public ImageReference Repository { get; }

    public override string Kind => "repository-not-found";
}

/// <summary>The registry answered something the distribution spec does not allow here, or an error status.</summary>
public sealed class RegistryProtocolException : OciException
{
    public RegistryProtocolException(string message, HttpStatusCode? status = null, string? hint = null, Exception? inner = null)
        : base(message, hint ?? "the registry answered unexpectedly; run with --verbose for the request log", inner)
    {
        Status = status;
    }

    public HttpStatusCode? Status { get; }

    public override string Kind => "registry-protocol";
}

/// <summary>A blob's length differs from the size its descriptor states.</summary>
public sealed class BlobSizeMismatchException : OciException
{
    public BlobSizeMismatchException(Digest digest, long expected, long actual)
        : base($"blob {digest}: its descriptor says {expected} bytes but the content has {(actual > expected ? "more than " : string.Empty)}{actual}",
               "the content does not match the manifest that names it; nothing was kept")
    {
        Expected = expected;
        Actual = actual;
    }

    public long Expected { get; }

    public long Actual { get; }

    public override string Kind => "blob-size-mismatch";
}

/// <summary>A manifest larger than Basalt accepts (protects against a hostile registry).</summary>
public sealed class ManifestTooLargeException : OciException
{
    public ManifestTooLargeException(ImageReference reference, long limit)
        : base($"manifest {reference} is larger than {limit} bytes", "a manifest this big is not an image manifest; check the reference")
    {
    }

    public override string Kind => "manifest-too-large";
}

/// <summary>A downloaded blob could not be written to local disk (no space, read-only, permissions).</summary>
public sealed class BlobWriteException : OciException
{
    public BlobWriteException(string path, Exception inner)
        : base($"cannot write blob to {path}: {inner?.Message}", "check free space and permissions of the cache directory; the download resumes from what was written", inner)
    {
        Path = path;
    }

    public string Path { get; }

    public override string Kind => "blob-write";
}
