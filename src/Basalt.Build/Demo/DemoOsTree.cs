using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Basalt.Build.Artifacts;
using Basalt.Build.Base;
using Basalt.Build.Init;
using Basalt.Config.Stages;
using Basalt.Platform;

namespace Basalt.Build.Demo;

/// <summary>
/// The demo's own OS tree: a copy of the default debootstrap base turned into a Basalt OS tree by init, with the
/// demo's root password, kept in the cache. It is made again whenever the basalt binary (which init copies into it,
/// and whose mounter its initrd carries) or the password differs; a half-made tree is never seen (made aside,
/// renamed). One run at a time holds the cache (<see cref="LockAsync"/>).
/// </summary>
public sealed class DemoOsTree
{
    public const string StampName = "basalt.sha256";

    /// <summary>A fixed salt keeps the tree the same from run to run for the same password.</summary>
    private const string PasswordSalt = "basaltdemo";

    private static readonly string[] RequiredFiles = ["/usr/bin/basalt", "/boot/vmlinuz", "/boot/initrd"];

    private readonly IToolRunner _tools;

    public DemoOsTree(IToolRunner tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        _tools = tools;
    }

    /// <summary>The blob store reference naming image v1 made from the cached tree.</summary>
    public const string CachedV1Reference = "basalt-demo/v1";

    /// <summary>The node's persistent content (its blob store with v1) kept beside the cached tree <paramref name="tree"/>.</summary>
    public static string NodeDirectory(string tree) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tree))!, "node");

    /// <summary>True when <paramref name="directory"/> looks like what <c>basalt init --root</c> makes.</summary>
    public static bool IsOsTree(string directory) =>
        Directory.Exists(directory) && RequiredFiles.All(path => RootedFile.Resolve(directory, path) is not null);

    /// <summary>What the cached tree was made from: the basalt binary's sha256 and the password hash.</summary>
    public static string Stamp(string basaltBinary, string rootPassword)
    {
        using var binary = File.OpenRead(basaltBinary);
        var sha = Convert.ToHexStringLower(SHA256.HashData(binary));
        var password = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(PasswordHash(rootPassword))));
        return $"{sha} {password[..16]}";
    }

    public static string PasswordHash(string rootPassword) => ShaCrypt.Hash(rootPassword, PasswordSalt);

    /// <summary>The stamp of the cached tree <paramref name="tree"/> (see <see cref="Stamp"/>); null when it has none.</summary>
    public static string? ReadStamp(string tree)
    {
        var path = StampPath(tree);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    private static string StampPath(string tree) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tree))!, StampName);

    /// <summary>Holds the demo's cache for this process; another demo run waits for it (up to <paramref name="patience"/>).</summary>
    public static async Task<FileStream> LockAsync(string cacheDirectory, TimeSpan patience, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(cacheDirectory);
        var path = Path.Combine(cacheDirectory, ".lock");
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < patience)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The debootstrap base for <paramref name="mirror"/>, built once into <paramref name="baseCache"/>.</summary>
    public async Task<BaseRootfs> EnsureBaseAsync(string baseCache, Uri? mirror, CancellationToken cancellationToken)
    {
        var chosen = mirror ?? AptSources.FindDebianMirror(AptSources.Read(), BaseImageSpec.DefaultSuite) ?? new Uri("http://deb.debian.org/debian");
        var spec = new BaseImageSpec { Mirror = chosen };
        return await new DebootstrapBaseBuilder(_tools).BuildAsync(spec, baseCache, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The init'd tree at <paramref name="target"/>: reused when its stamp matches, made from <paramref name="baseRootfs"/>
    /// otherwise. Returns whether it was reused.
    /// </summary>
    public async Task<bool> EnsureTreeAsync(string target, string baseRootfs, string basaltBinary, string rootPassword, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        var parent = Path.GetDirectoryName(target)!;
        var stampPath = StampPath(target);
        var stamp = Stamp(basaltBinary, rootPassword);
        if (IsOsTree(target) && ReadStamp(target) == stamp)
        {
            return true;
        }

        Directory.CreateDirectory(parent);
        File.Delete(stampPath);
        // v1's blobs were made from the tree being replaced.
        await RemoveTreeAsync(NodeDirectory(target)).ConfigureAwait(false);
        var staging = Path.Combine(parent, $".rootfs.staging-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(staging);
            await _tools.RunAsync(new ToolInvocation("cp", ["-a", "--reflink=auto", baseRootfs + "/.", staging + "/"]) { Package = "coreutils", Timeout = TimeSpan.FromMinutes(30) }, cancellationToken).ConfigureAwait(false);
            var plan = new InitPlanner().Plan(new InitOptions
            {
                Root = staging,
                BasaltBinary = basaltBinary,
                RootPasswordHash = PasswordHash(rootPassword),
            });
            await new InitExecutor(_tools).ExecuteAsync(plan, cancellationToken).ConfigureAwait(false);
            if (!IsOsTree(staging))
            {
                throw new DemoCheckFailedException("basalt init", $"the tree it made in {staging} lacks one of {string.Join(", ", RequiredFiles)}");
            }

            await RemoveTreeAsync(target).ConfigureAwait(false);
            Posix.Sync(staging);
            Directory.Move(staging, target);
            Posix.SyncParent(target);
            AtomicFile.WriteAllText(stampPath, stamp + "\n");
            return false;
        }
        catch
        {
            await RemoveTreeAsync(staging).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Removes a tree without crossing into a mount a failed chroot may have left inside it.</summary>
    private async Task RemoveTreeAsync(string path)
    {
        if (Directory.Exists(path))
        {
            await _tools.RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", path]) { Package = "coreutils", Timeout = TimeSpan.FromMinutes(10) }, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
