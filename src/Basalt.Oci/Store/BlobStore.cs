using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Basalt.Oci.Model;
using Basalt.Platform;

namespace Basalt.Oci.Store;

/// <summary>A blob the store does not hold.</summary>
public sealed class BlobNotFoundException : OciException
{
    public BlobNotFoundException(Digest digest, string root)
        : base($"blob {digest} is not in the store at {root}", "pull the image again")
    {
        Digest = digest;
    }

    public Digest Digest { get; }
    public override string Kind => "blob-not-found";
}

/// <summary>One stored blob.</summary>
public sealed record BlobInfo(Digest Digest, long Size, DateTimeOffset LastAccessTime, DateTimeOffset LastWriteTime);

/// <summary>A named reference: an image reference string and the manifest (or index) digest it points to.</summary>
public sealed record StoreReference(string Name, Digest ManifestDigest);

public enum PruneMode
{
    /// <summary>Keep every blob reachable from a reference; remove the rest.</summary>
    Unreferenced,

    /// <summary>Remove every blob and every reference.</summary>
    All,

    /// <summary>
    /// Keep only what <see cref="PrunePolicy.Roots"/> reach, whatever the references say; remove every other blob, and
    /// every reference to a manifest or index removed. For a store one owner fills for its own images (a node's).
    /// </summary>
    Roots,
}

/// <summary>What prune removes. <see cref="GracePeriod"/> protects blobs a concurrent pull just wrote but has not referenced yet.</summary>
public sealed record PrunePolicy(PruneMode Mode)
{
    public static PrunePolicy Unreferenced { get; } = new(PruneMode.Unreferenced);
    public static PrunePolicy All { get; } = new(PruneMode.All) { GracePeriod = TimeSpan.Zero };

    /// <summary>Everything but what the manifests or indexes <paramref name="roots"/> reach (<see cref="PruneMode.Roots"/>).</summary>
    public static PrunePolicy KeepingOnly(IEnumerable<Digest> roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        return new(PruneMode.Roots) { Roots = [.. roots] };
    }

    /// <summary>The manifests or indexes to keep, with all they reach, for <see cref="PruneMode.Roots"/>.</summary>
    public IReadOnlyList<Digest> Roots { get; init; } = [];

    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Partial downloads untouched for this long are abandoned and removed.</summary>
    public TimeSpan StalePartialAge { get; init; } = TimeSpan.FromDays(1);
}

/// <summary>What a prune removed.</summary>
public sealed record PruneResult(
    IReadOnlyList<Digest> RemovedBlobs,
    IReadOnlyList<string> RemovedReferences,
    IReadOnlyList<string> RemovedPartials,
    long BytesFreed);

/// <summary>
/// The content-addressed blob store shared by every Basalt command: <c>Root/blobs/&lt;alg&gt;/&lt;hex&gt;</c>.
/// Blobs are written to <c>Root/tmp</c>, flushed, and renamed into place, so no process ever sees a
/// half blob, and two processes committing the same blob both succeed.
/// </summary>
public sealed class BlobStore
{
    private const int MaxWalkedDocumentBytes = 4 << 20;

    public BlobStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    private string BlobsRoot => Path.Combine(Root, "blobs");
    private string TempRoot => Path.Combine(Root, "tmp");
    private string RefsRoot => Path.Combine(Root, "refs");

    /// <summary><c>/var/cache/basalt</c> as root, else <c>$XDG_CACHE_HOME/basalt</c>, else <c>~/.cache/basalt</c>.</summary>
    public static string DefaultRoot()
    {
        if (Posix.IsRoot)
        {
            return "/var/cache/basalt";
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "basalt");
        }

        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "basalt");
    }

    public string GetPath(Digest digest) => Path.Combine(BlobsRoot, digest.Algorithm, digest.Hex);

    public bool Contains(Digest digest) => File.Exists(GetPath(digest));

    /// <summary>Size of a stored blob, or null when absent.</summary>
    public long? GetSize(Digest digest)
    {
        var info = new FileInfo(GetPath(digest));
        return info.Exists ? info.Length : null;
    }

    public Stream OpenRead(Digest digest)
    {
        var path = GetPath(digest);
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
            TouchAccessTime(path);
            return stream;
        }
        catch (FileNotFoundException)
        {
            throw new BlobNotFoundException(digest, Root);
        }
        catch (DirectoryNotFoundException)
        {
            throw new BlobNotFoundException(digest, Root);
        }
    }

    public byte[] ReadAllBytes(Digest digest)
    {
        using var stream = OpenRead(digest);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>
    /// A stable place to download <paramref name="digest"/> to: the same path every time, so an
    /// interrupted download can resume from the bytes already there.
    /// </summary>
    public string GetPartialPath(Digest digest)
    {
        Directory.CreateDirectory(TempRoot);
        return Path.Combine(TempRoot, $"{digest.Algorithm}-{digest.Hex}.partial");
    }

    /// <summary>
    /// Moves a file whose content the caller already verified into place: flush, rename, flush the
    /// directory. If another process committed the same blob first, this one simply wins or yields.
    /// </summary>
    public string CommitVerified(Digest digest, string partialPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(partialPath);
        var final = GetPath(digest);
        if (!File.Exists(partialPath))
        {
            if (File.Exists(final))
            {
                return final; // a concurrent commit of the same content got there first
            }

            throw new FileNotFoundException($"partial blob {partialPath} does not exist", partialPath);
        }

        Posix.Sync(partialPath);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        File.Move(partialPath, final, overwrite: true);
        Posix.SyncParent(final);
        return final;
    }

    /// <summary>Hashes <paramref name="partialPath"/>; commits it when it matches, else deletes it and throws.</summary>
    public string Commit(Digest digest, string partialPath)
    {
        Digest actual;
        using (var stream = new FileStream(partialPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var hash = digest.CreateHasher())
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }

            actual = Digest.FromHash(digest.Algorithm, hash.GetHashAndReset());
        }

        if (actual != digest)
        {
            TryDelete(partialPath);
            throw new DigestMismatchException(digest, actual, $"blob {digest.Short}");
        }

        return CommitVerified(digest, partialPath);
    }

    /// <summary>Stores a stream's content; verifies it against <paramref name="expected"/> when given.</summary>
    public async Task<Digest> PutAsync(Stream content, Digest? expected = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        Directory.CreateDirectory(TempRoot);
        var temporary = Path.Combine(TempRoot, $"put-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        var algorithm = expected?.Algorithm ?? "sha256";
        try
        {
            Digest actual;
            var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await using (output.ConfigureAwait(false))
            using (var hash = IncrementalHash.CreateHash(algorithm == "sha512" ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }

                actual = Digest.FromHash(algorithm, hash.GetHashAndReset());
            }

            if (expected is { } wanted && wanted != actual)
            {
                throw new DigestMismatchException(wanted, actual, $"blob {wanted.Short}");
            }

            if (Contains(actual))
            {
                TryDelete(temporary);
                return actual;
            }

            CommitVerified(actual, temporary);
            return actual;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public Digest Put(ReadOnlySpan<byte> content)
    {
        var digest = Digest.Sha256(content);
        if (Contains(digest))
        {
            return digest;
        }

        Directory.CreateDirectory(TempRoot);
        var temporary = Path.Combine(TempRoot, $"put-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        try
        {
            using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                output.Write(content);
            }

            CommitVerified(digest, temporary);
            return digest;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public IReadOnlyList<BlobInfo> List()
    {
        var result = new List<BlobInfo>();
        if (!Directory.Exists(BlobsRoot))
        {
            return result;
        }

        foreach (var algorithmDirectory in Directory.EnumerateDirectories(BlobsRoot))
        {
            var algorithm = Path.GetFileName(algorithmDirectory);
            foreach (var file in Directory.EnumerateFiles(algorithmDirectory))
            {
                if (!Digest.TryParse($"{algorithm}:{Path.GetFileName(file)}", out var digest))
                {
                    continue;
                }

                var info = new FileInfo(file);
                if (info.Exists)
                {
                    result.Add(new BlobInfo(digest, info.Length, info.LastAccessTimeUtc, info.LastWriteTimeUtc));
                }
            }
        }

        result.Sort((a, b) => string.CompareOrdinal(a.Digest.Value, b.Digest.Value));
        return result;
    }

    public void SetReference(string name, Digest manifestDigest)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Any(char.IsControl))
        {
            throw new ArgumentException("a reference name cannot contain control characters", nameof(name));
        }

        Directory.CreateDirectory(RefsRoot);
        AtomicFile.WriteAllText(ReferencePath(name), $"{manifestDigest.Value}\n{name}\n");
    }

    public bool TryGetReference(string name, out Digest manifestDigest)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        manifestDigest = default;
        var reference = ReadReference(ReferencePath(name));
        if (reference is null || reference.Name != name)
        {
            return false;
        }

        manifestDigest = reference.ManifestDigest;
        return true;
    }

    public IReadOnlyList<StoreReference> ListReferences()
    {
        if (!Directory.Exists(RefsRoot))
        {
            return [];
        }

        return Directory.EnumerateFiles(RefsRoot)
            .Where(f => !Path.GetFileName(f).StartsWith('.')) // temporaries of in-flight atomic writes
            .Select(ReadReference)
            .OfType<StoreReference>()
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
    }

    public bool RemoveReference(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var path = ReferencePath(name);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        Posix.SyncParent(path);
        return true;
    }

    /// <summary>Removes blobs (and, for <see cref="PruneMode.All"/>, references) as the policy says.</summary>
    public PruneResult Prune(PrunePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var now = DateTimeOffset.UtcNow;
        var removedReferences = new List<string>();
        var removedPartials = new List<string>();
        var removedBlobs = new List<Digest>();
        long freed = 0;

        // Partial downloads: fresh ones are in flight and protect their digest; stale ones go.
        var inFlight = new HashSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(TempRoot))
        {
            foreach (var file in Directory.EnumerateFiles(TempRoot))
            {
                var info = new FileInfo(file);
                if (!info.Exists)
                {
                    continue;
                }

                if (now - info.LastWriteTimeUtc > policy.StalePartialAge)
                {
                    freed += info.Length;
                    TryDelete(file);
                    removedPartials.Add(info.Name);
                }
                else if (info.Name.EndsWith(".partial", StringComparison.Ordinal))
                {
                    var stem = info.Name[..^".partial".Length];
                    var dash = stem.IndexOf('-', StringComparison.Ordinal);
                    if (dash > 0)
                    {
                        inFlight.Add($"{stem[..dash]}:{stem[(dash + 1)..]}");
                    }
                }
            }
        }

        var keep = new HashSet<Digest>();
        if (policy.Mode == PruneMode.All)
        {
            foreach (var reference in ListReferences())
            {
                if (RemoveReference(reference.Name))
                {
                    removedReferences.Add(reference.Name);
                }
            }
        }
        else
        {
            var roots = policy.Mode == PruneMode.Roots ? policy.Roots : ListReferences().Select(reference => reference.ManifestDigest);
            foreach (var root in roots)
            {
                Walk(root, keep, depth: 0);
            }
        }

        foreach (var blob in List())
        {
            if (keep.Contains(blob.Digest) || inFlight.Contains(blob.Digest.Value) || now - blob.LastWriteTime < policy.GracePeriod)
            {
                continue;
            }

            TryDelete(GetPath(blob.Digest));
            removedBlobs.Add(blob.Digest);
            freed += blob.Size;
        }

        if (policy.Mode == PruneMode.Roots)
        {
            // A name for an image whose blobs are gone would only make the next pull of it look for them.
            foreach (var reference in ListReferences().Where(reference => !Contains(reference.ManifestDigest)))
            {
                if (RemoveReference(reference.Name))
                {
                    removedReferences.Add(reference.Name);
                }
            }
        }

        return new PruneResult(removedBlobs, removedReferences, removedPartials, freed);
    }

    /// <summary>Marks a manifest or index and everything its descriptors reach.</summary>
    private void Walk(Digest digest, HashSet<Digest> keep, int depth)
    {
        if (!keep.Add(digest) || depth > 8)
        {
            return;
        }

        var path = GetPath(digest);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length > MaxWalkedDocumentBytes)
        {
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException)
        {
            return; // a layer or config blob, or not JSON: nothing further to reach
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            foreach (var property in new[] { "config", "subject" })
            {
                if (document.RootElement.TryGetProperty(property, out var descriptor))
                {
                    Mark(descriptor, keep, depth);
                }
            }

            foreach (var property in new[] { "layers", "manifests", "blobs" })
            {
                if (document.RootElement.TryGetProperty(property, out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    foreach (var descriptor in list.EnumerateArray())
                    {
                        Mark(descriptor, keep, depth);
                    }
                }
            }
        }
    }

    private void Mark(JsonElement descriptor, HashSet<Digest> keep, int depth)
    {
        if (descriptor.ValueKind != JsonValueKind.Object
            || !descriptor.TryGetProperty("digest", out var digestElement)
            || digestElement.ValueKind != JsonValueKind.String
            || !Digest.TryParse(digestElement.GetString(), out var digest))
        {
            return;
        }

        var mediaType = descriptor.TryGetProperty("mediaType", out var mediaTypeElement) && mediaTypeElement.ValueKind == JsonValueKind.String
            ? mediaTypeElement.GetString()
            : null;
        if (MediaTypes.IsIndex(mediaType) || MediaTypes.IsManifest(mediaType))
        {
            Walk(digest, keep, depth + 1);
        }
        else
        {
            keep.Add(digest);
        }
    }

    private string ReferencePath(string name) => Path.Combine(RefsRoot, EncodeReferenceName(name));

    /// <summary>
    /// A file name for a reference: safe characters kept, everything else (and a leading dot)
    /// percent-encoded; names too long for a file name are hashed (the name itself is inside the file).
    /// </summary>
    internal static string EncodeReferenceName(string name)
    {
        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            var c = (char)b;
            var safe = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '-' || (c == '.' && builder.Length > 0);
            if (safe)
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(((int)b).ToString("X2"));
            }
        }

        return builder.Length <= 200 ? builder.ToString() : "sha256-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)));
    }

    private static StoreReference? ReadReference(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        return lines.Length >= 2 && Digest.TryParse(lines[0], out var digest) && lines[1].Length > 0
            ? new StoreReference(lines[1], digest)
            : null;
    }

    private static void TouchAccessTime(string path)
    {
        try
        {
            File.SetLastAccessTimeUtc(path, DateTime.UtcNow);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
