using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Base;

/// <summary>
/// Builds the default base root filesystem with debootstrap, once per set of inputs:
/// the tree is made in a staging directory and renamed into the cache only when complete,
/// so an interrupted build is never mistaken for a finished one.
/// </summary>
public sealed class DebootstrapBaseBuilder
{
    private readonly IToolRunner _tools;
    private readonly ILogger _logger;

    public DebootstrapBaseBuilder(IToolRunner tools, ILogger<DebootstrapBaseBuilder>? logger = null)
    {
        _tools = tools;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Where the finished rootfs for <paramref name="spec"/> lives under <paramref name="cacheDirectory"/>.</summary>
    public static string RootfsPath(string cacheDirectory, BaseImageSpec spec) =>
        Path.Combine(cacheDirectory, "base", $"{spec.Suite}-{spec.Architecture}-{spec.CacheKey}", "rootfs");

    /// <summary>Returns the cached rootfs when present; builds it otherwise.</summary>
    public async Task<BaseRootfs> BuildAsync(BaseImageSpec spec, string cacheDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(cacheDirectory);
        var target = RootfsPath(cacheDirectory, spec);
        if (Directory.Exists(target))
        {
            _logger.LogInformation("base {Suite} ({Key}) is cached at {Path}", spec.Suite, spec.CacheKey, target);
            return new BaseRootfs(target, spec, Reused: true);
        }

        if (!Posix.IsRoot)
        {
            throw new BaseBuildRequiresRootException();
        }

        var parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".rootfs.staging-{Guid.NewGuid():N}");
        try
        {
            _logger.LogInformation("debootstrap {Suite} from {Mirror} into {Path}", spec.Suite, spec.Mirror, staging);
            await _tools.RunAsync(
                new ToolInvocation("debootstrap", spec.DebootstrapArguments(staging)) { Package = "debootstrap" },
                cancellationToken).ConfigureAwait(false);

            // debootstrap leaves its apt lists and downloaded debs behind; an image does not need them.
            DeleteContents(Path.Combine(staging, "var", "cache", "apt", "archives"), "*.deb");
            DeleteContents(Path.Combine(staging, "var", "lib", "apt", "lists"), "*_*");
            Posix.Sync(staging);
            Posix.RenameNoReplaceTarget(staging, target);
            Posix.SyncParent(target);
            return new BaseRootfs(target, spec, Reused: false);
        }
        catch
        {
            await DeleteTreeAsync(staging).ConfigureAwait(false);
            throw;
        }
    }

    private static void DeleteContents(string directory, string pattern)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(directory, pattern))
        {
            File.Delete(file);
        }
    }

    private async Task DeleteTreeAsync(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        // A failed debootstrap can leave /proc or /sys mounted inside the tree; never recurse into a mount.
        try
        {
            await _tools.RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", path])).ConfigureAwait(false);
        }
        catch (ToolFailedException exception)
        {
            _logger.LogWarning("could not remove {Path}: {Message}", path, exception.Message);
        }
    }
}

public sealed record BaseRootfs(string Path, BaseImageSpec Spec, bool Reused);

public sealed class BaseBuildRequiresRootException : BuildException
{
    public BaseBuildRequiresRootException()
        : base("building the default base needs root (debootstrap creates device nodes and chroots)",
               "run the command with sudo, or pass --from with an existing image")
    {
    }

    public override string Kind => "requires-root";
}
