using System.Security.Cryptography;
using System.Text;

namespace Basalt.Build.Base;

/// <summary>
/// The inputs of the embedded default base. Two equal specs give the same cache key, so a
/// second build with the same inputs reuses the first one.
/// </summary>
public sealed record BaseImageSpec
{
    public const string DefaultSuite = "bookworm";

    /// <summary>What every Basalt base needs beyond minbase: a kernel and systemd as init.</summary>
    public static readonly IReadOnlyList<string> DefaultPackages = ["linux-image-amd64", "systemd-sysv", "udev", "kmod"];

    public string Suite { get; init; } = DefaultSuite;
    public required Uri Mirror { get; init; }
    public string Architecture { get; init; } = "amd64";
    public string Variant { get; init; } = "minbase";
    public IReadOnlyList<string> Packages { get; init; } = DefaultPackages;

    /// <summary>A digest of the inputs, stable across runs and machines.</summary>
    public string CacheKey
    {
        get
        {
            var canonical = new StringBuilder()
                .Append("suite=").Append(Suite).Append('\n')
                .Append("mirror=").Append(Mirror.AbsoluteUri.TrimEnd('/')).Append('\n')
                .Append("arch=").Append(Architecture).Append('\n')
                .Append("variant=").Append(Variant).Append('\n')
                .Append("packages=").Append(string.Join(',', Packages.Order(StringComparer.Ordinal))).Append('\n')
                .ToString();
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..16];
        }
    }

    public IReadOnlyList<string> DebootstrapArguments(string targetDirectory) =>
    [
        $"--variant={Variant}",
        $"--arch={Architecture}",
        $"--include={string.Join(',', Packages)}",
        Suite,
        targetDirectory,
        Mirror.AbsoluteUri,
    ];
}
