using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Basalt.Oci.Model;

namespace Basalt.Oci.Manifests;

/// <summary>
/// A wanted platform <c>os/arch[/variant]</c>, normalised the way containerd's <c>platforms</c> package
/// does (x86_64 → amd64, aarch64 → arm64, armhf → arm/v7, armel → arm/v6, i386 → 386), except that
/// arm64 always carries its implied variant <c>v8</c>, so <c>linux/arm64</c> and <c>linux/arm64/v8</c>
/// are the same value. Build it with <see cref="Parse"/>, <see cref="Normalize"/> or <see cref="Current"/>.
/// </summary>
public sealed record PlatformSpec
{
    private PlatformSpec(string os, string architecture, string? variant)
    {
        OS = os;
        Architecture = architecture;
        Variant = variant;
    }

    public string OS { get; }

    public string Architecture { get; }

    public string? Variant { get; }

    /// <summary>The platform of the machine Basalt runs on (always linux; Basalt runs nowhere else).</summary>
    public static PlatformSpec Current => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => Normalize("linux", "amd64", null),
        System.Runtime.InteropServices.Architecture.Arm64 => Normalize("linux", "arm64", null),
        System.Runtime.InteropServices.Architecture.Arm => Normalize("linux", "arm", "v7"),
        System.Runtime.InteropServices.Architecture.Armv6 => Normalize("linux", "arm", "v6"),
        System.Runtime.InteropServices.Architecture.X86 => Normalize("linux", "386", null),
        System.Runtime.InteropServices.Architecture.S390x => Normalize("linux", "s390x", null),
        System.Runtime.InteropServices.Architecture.Ppc64le => Normalize("linux", "ppc64le", null),
        System.Runtime.InteropServices.Architecture.RiscV64 => Normalize("linux", "riscv64", null),
        System.Runtime.InteropServices.Architecture.LoongArch64 => Normalize("linux", "loong64", null),
        var other => Normalize("linux", other.ToString(), null),
    };

    /// <summary>Parses <c>os/arch[/variant]</c>, e.g. <c>linux/amd64</c>, <c>linux/arm64/v8</c>, <c>linux/arm/v7</c>.</summary>
    /// <exception cref="InvalidPlatformException">the text is not of that form.</exception>
    public static PlatformSpec Parse(string text)
    {
        if (!TryParse(text, out var platform, out var error))
        {
            throw new InvalidPlatformException(text, error);
        }

        return platform;
    }

    public static bool TryParse(
        [NotNullWhen(true)] string? text,
        [NotNullWhen(true)] out PlatformSpec? platform,
        out string error)
    {
        platform = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the platform is empty";
            return false;
        }

        var parts = text.Trim().Split('/');
        if (parts.Length is < 2 or > 3)
        {
            error = $"expected 2 or 3 parts separated by '/', found {parts.Length}";
            return false;
        }

        string[] names = ["os", "architecture", "variant"];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length == 0)
            {
                error = $"the {names[i]} is empty";
                return false;
            }

            if (!parts[i].All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                error = $"the {names[i]} '{parts[i]}' may contain only letters, digits, '_', '-' and '.'";
                return false;
            }
        }

        platform = Normalize(parts[0], parts[1], parts.Length == 3 ? parts[2] : null);
        error = string.Empty;
        return true;
    }

    /// <summary>Normalises the spellings of one platform, e.g. (Linux, x86_64, null) → linux/amd64.</summary>
    public static PlatformSpec Normalize(string os, string architecture, string? variant)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(os);
        ArgumentException.ThrowIfNullOrWhiteSpace(architecture);
        os = os.Trim().ToLowerInvariant();
        if (os == "macos")
        {
            os = "darwin";
        }

        var arch = architecture.Trim().ToLowerInvariant();
        var v = string.IsNullOrWhiteSpace(variant) ? null : variant.Trim().ToLowerInvariant();
        (arch, v) = arch switch
        {
            "i386" or "i686" or "386" or "x86" => ("386", null),
            "x86_64" or "x86-64" or "amd64" => ("amd64", v is "v1" or "1" ? null : v),
            "aarch64" or "arm64" => ("arm64", v is null or "8" or "v8" or "v8.0" ? "v8" : v),
            "armhf" => ("arm", "v7"),
            "armel" => ("arm", "v6"),
            "arm" => ("arm", v switch
            {
                null or "7" => "v7",
                "5" or "6" or "8" => "v" + v,
                _ => v,
            }),
            _ => (arch, v),
        };
        return new PlatformSpec(os, arch, v);
    }

    /// <summary>The normalised form of a platform an index or config states.</summary>
    public static PlatformSpec From(OciPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(platform);
        return Normalize(platform.OS, platform.Architecture, platform.Variant);
    }

    /// <summary>The normalised platform an image config says its image is for.</summary>
    public static PlatformSpec From(ImageConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Normalize(config.OS, config.Architecture, config.Variant);
    }

    /// <summary>True when an image built for <paramref name="candidate"/> runs on this platform.</summary>
    public bool Accepts(PlatformSpec candidate) => MatchRank(candidate) is not null;

    /// <summary>
    /// How well <paramref name="candidate"/> fits: 0 exact, 1.. an older variant this platform still
    /// runs (arm/v7 runs v6 and v5; amd64/v3 runs v2 and v1), null when it cannot run it.
    /// </summary>
    public int? MatchRank(PlatformSpec candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (candidate.OS != OS || candidate.Architecture != Architecture)
        {
            return null;
        }

        if (candidate.Variant == Variant)
        {
            return 0;
        }

        if (Architecture is "arm" or "amd64"
            && Level(Variant) is { } wanted
            && Level(candidate.Variant) is { } offered
            && offered <= wanted)
        {
            return wanted - offered;
        }

        return null;
    }

    public override string ToString() => Variant is null ? $"{OS}/{Architecture}" : $"{OS}/{Architecture}/{Variant}";

    // Variant levels for architectures whose newer variants run older binaries; no variant on amd64 is v1.
    private int? Level(string? variant) => variant switch
    {
        null when Architecture == "amd64" => 1,
        ['v', >= '1' and <= '9'] => variant[1] - '0',
        _ => null,
    };
}
