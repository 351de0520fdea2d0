using Basalt.Boot.Mounting;

namespace Basalt.Boot.CommandLine;

/// <summary>Turns the parsed words into <see cref="BootParameters"/>, rejecting what contradicts itself.</summary>
internal static class BootParametersReader
{
    private const string LivePrefix = "live:";

    public static BootParameters Read(KernelCommandLine line)
    {
        RejectUnknownBasaltKeys(line);
        if (line.Has(BootKeys.ImmucoreUki))
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.ImmucoreUki}' asks for a unified kernel image boot, which Basalt does not do",
                "boot Basalt disks through their GRUB menu; remove rd.immucore.uki from the command line");
        }

        var disabled = line.GetSwitch(BootKeys.CosDisable) || line.GetSwitch(BootKeys.ImmucoreDisable);
        var debug = line.GetSwitch(BootKeys.ImmucoreDebug) || line.GetSwitch(BootKeys.BasaltDebug);
        var rootReadWrite = line.GetSwitch(BootKeys.CosDebugReadWrite) || line.GetSwitch(BootKeys.ImmucoreDebugReadWrite);
        var oemLabel = line.GetValue(BootKeys.ImmucoreOemLabel) ?? line.GetValue(BootKeys.CosOemLabel) ?? BootKeys.DefaultOemLabel;
        if (oemLabel.Length == 0)
        {
            throw new InvalidBootCommandLineException($"'{BootKeys.CosOemLabel}=' names no label", $"write '{BootKeys.CosOemLabel}={BootKeys.DefaultOemLabel}' or drop the key");
        }

        var oemTimeout = line.GetSeconds(BootKeys.ImmucoreOemTimeout) ?? line.GetSeconds(BootKeys.CosOemTimeout) ?? TimeSpan.FromSeconds(5);
        var deviceTimeout = line.GetSeconds(BootKeys.ImmucoreSysrootWait) ?? TimeSpan.FromSeconds(60);
        var overlay = line.GetValue(BootKeys.ImmucoreOverlay) ?? line.GetValue(BootKeys.CosOverlay);
        if (overlay is not null)
        {
            OverlayBacking.Parse(overlay, BootKeys.CosOverlay);
        }

        var mounts = line.GetValues(BootKeys.CosMount).Concat(line.GetValues(BootKeys.ImmucoreMount)).Select(ParseMount).ToList();
        var reset = line.GetSwitch(BootKeys.KairosReset) || ReadReset(line);
        var (mode, container, imagePath, format, root, liveUrl) = ReadMode(line, reset);

        return new BootParameters
        {
            Mode = mode,
            Reset = reset,
            ImageContainer = container,
            ImagePath = imagePath,
            ImageFormat = format,
            Root = root,
            LiveUrl = liveUrl,
            OemLabel = oemLabel,
            OemTimeout = oemTimeout,
            DeviceTimeout = deviceTimeout,
            Disabled = disabled,
            Debug = debug,
            RootReadWrite = rootReadWrite,
            OverlayBase = overlay,
            Mounts = mounts,
            CommandLine = line.Text,
        };
    }

    private static void RejectUnknownBasaltKeys(KernelCommandLine line)
    {
        foreach (var parameter in line.Parameters)
        {
            if (parameter.Key.StartsWith("basalt.", StringComparison.Ordinal) && !BootKeys.BasaltKeys.Contains(parameter.Key))
            {
                throw new InvalidBootCommandLineException(
                    $"unknown Basalt key '{parameter.Key}' on the kernel command line",
                    $"known keys: {string.Join(", ", BootKeys.BasaltKeys)}");
            }
        }
    }

    private static bool ReadReset(KernelCommandLine line)
    {
        var value = line.GetValue(BootKeys.BasaltReset);
        if (value is null)
        {
            return line.Has(BootKeys.BasaltReset);
        }

        return value switch
        {
            "unattended" or "1" or "yes" or "true" => true,
            "0" or "no" or "false" => false,
            _ => throw new InvalidBootCommandLineException(
                $"'{BootKeys.BasaltReset}={value}' is not a reset mode",
                $"write '{BootKeys.BasaltReset}=unattended' (the statereset entry) or drop the key"),
        };
    }

    private static VolumeMount ParseMount(string text)
    {
        // LABEL=X:/path; the device part may itself hold '=' but never ':' (labels and UUIDs do not).
        var separator = text.IndexOf(':', StringComparison.Ordinal);
        if (separator > 0 && DeviceReference.TryParse(text[..separator], out var device) && text[(separator + 1)..] is { Length: > 1 } path && path[0] == '/')
        {
            return new VolumeMount(device!, path)
            {
                ReadWrite = device!.Value == BootKeys.PersistentLabel,
                Required = false,
            };
        }

        throw new InvalidBootCommandLineException(
            $"'{BootKeys.CosMount}={text}' is not DEVICE:/mountpoint",
            $"write e.g. '{BootKeys.CosMount}=LABEL=DATA:/var/lib/data' (LABEL=, UUID=, PARTLABEL= or /dev/…)");
    }

    private static (BootMode Mode, DeviceReference? Container, string? ImagePath, RootImageFormat Format, DeviceReference? Root, Uri? LiveUrl)
        ReadMode(KernelCommandLine line, bool reset)
    {
        var explicitMode = ReadExplicitMode(line);
        var rootText = line.GetValue(BootKeys.Root);
        var imageFile = line.GetValue(BootKeys.ImageFile);
        var liveUrlText = line.GetValue(BootKeys.BasaltLiveUrl);
        Uri? liveUrl = null;
        if (liveUrlText is not null)
        {
            if (!Uri.TryCreate(liveUrlText, UriKind.Absolute, out liveUrl) || (liveUrl.Scheme != Uri.UriSchemeHttp && liveUrl.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidBootCommandLineException(
                    $"'{BootKeys.BasaltLiveUrl}={liveUrlText}' is not an http(s) URL",
                    $"write e.g. '{BootKeys.BasaltLiveUrl}=http://10.0.2.2:8080/rootfs.squashfs'");
            }
        }

        if (imageFile is not null && (imageFile.Length < 2 || imageFile[0] != '/'))
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.ImageFile}={imageFile}' is not an absolute path",
                $"write e.g. '{BootKeys.ImageFile}={BootKeys.ActiveImage}'");
        }

        // Live: a downloaded squashfs, or root=live:… on a medium other than COS_RECOVERY.
        DeviceReference? liveMedium = null;
        if (rootText is not null && rootText.StartsWith(LivePrefix, StringComparison.Ordinal))
        {
            var mediumText = rootText[LivePrefix.Length..];
            if (!DeviceReference.TryParse(mediumText, out liveMedium))
            {
                throw new InvalidBootCommandLineException(
                    $"'root={rootText}' names no device after 'live:'",
                    "write e.g. 'root=live:CDLABEL=COS_LIVE' (live ISO) or 'root=live:LABEL=COS_RECOVERY' (recovery squashfs)");
            }
        }

        var squashImage = line.GetValue(BootKeys.LiveSquashImage);
        var liveDirectory = line.GetValue(BootKeys.LiveDirectory) ?? "/";
        if (liveMedium is { Kind: DeviceReferenceKind.Label, Value: BootKeys.RecoveryLabel })
        {
            Require(explicitMode, BootMode.Recovery, $"root={rootText}");
            RejectLiveUrl(liveUrl, BootMode.Recovery);
            var path = CombineLivePath(liveDirectory, squashImage ?? BootKeys.RecoverySquashfs);
            RejectImageFileMismatch(imageFile, path, $"root={rootText}");
            return (BootMode.Recovery, liveMedium, path, RootImageFormat.Squashfs, null, null);
        }

        var live = liveMedium is not null || liveUrl is not null || line.Has(BootKeys.LiveImage) || explicitMode == BootMode.Live;
        if (live)
        {
            Require(explicitMode, BootMode.Live, liveUrl is not null ? BootKeys.BasaltLiveUrl : rootText is not null ? $"root={rootText}" : BootKeys.LiveImage);
            if (reset)
            {
                throw new InvalidBootCommandLineException(
                    "a reset was asked for on a live boot",
                    "reset runs from the recovery system: boot the 'statereset' entry of an installed disk");
            }

            if (liveUrl is not null && liveMedium is not null)
            {
                throw new InvalidBootCommandLineException(
                    $"both '{BootKeys.BasaltLiveUrl}' and 'root={rootText}' name the live system",
                    $"keep one: '{BootKeys.BasaltLiveUrl}=' to download the squashfs, or 'root=live:CDLABEL={BootKeys.LiveLabel}' to read it from the medium");
            }

            if (rootText is not null && liveMedium is null && liveUrl is not null)
            {
                throw new InvalidBootCommandLineException(
                    $"'{BootKeys.BasaltLiveUrl}' is only for live boots, but 'root={rootText}' names an installed system",
                    $"drop '{BootKeys.BasaltLiveUrl}=' to boot the installed system, or drop 'root=' to boot the downloaded live system");
            }

            if (liveUrl is not null)
            {
                return (BootMode.Live, null, null, RootImageFormat.Squashfs, null, liveUrl);
            }

            if (rootText is not null && liveMedium is null)
            {
                throw new InvalidBootCommandLineException(
                    $"live boot asked for, but 'root={rootText}' is not a live medium",
                    $"write 'root=live:CDLABEL={BootKeys.LiveLabel}' or '{BootKeys.BasaltLiveUrl}=URL'");
            }

            var medium = liveMedium ?? DeviceReference.Label(BootKeys.LiveLabel);
            return (BootMode.Live, medium, CombineLivePath(liveDirectory, squashImage ?? BootKeys.LiveSquashfs), RootImageFormat.Squashfs, null, null);
        }

        RejectLiveUrl(liveUrl, explicitMode ?? BootMode.Active);
        if (rootText is null)
        {
            if (explicitMode is null)
            {
                throw new InvalidBootCommandLineException(
                    "the kernel command line says neither which system to boot nor where it is (no 'root=', no 'basalt.mode=')",
                    $"write 'root=LABEL={BootKeys.ActiveLabel} {BootKeys.ImageFile}={BootKeys.ActiveImage}' (or COS_PASSIVE / COS_SYSTEM), as the Basalt GRUB menu does");
            }
        }

        DeviceReference? root = null;
        if (rootText is not null && !DeviceReference.TryParse(rootText, out root))
        {
            throw new InvalidBootCommandLineException(
                $"'root={rootText}' is not a device Basalt can find",
                "write root=LABEL=…, root=UUID=…, root=PARTUUID=… or root=/dev/…");
        }

        BootMode? labelMode = root is { Kind: DeviceReferenceKind.Label } ? root.Value switch
        {
            BootKeys.ActiveLabel => BootMode.Active,
            BootKeys.PassiveLabel => BootMode.Passive,
            BootKeys.SystemLabel => BootMode.Recovery,
            _ => null,
        } : null;

        if (explicitMode is not null && labelMode is not null && explicitMode != labelMode)
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.BasaltMode}={Name(explicitMode.Value)}' contradicts 'root={rootText}', which is the {Name(labelMode.Value)} system",
                $"drop '{BootKeys.BasaltMode}=' or make it '{BootKeys.BasaltMode}={Name(labelMode.Value)}'");
        }

        var mode = explicitMode ?? labelMode ?? throw new InvalidBootCommandLineException(
            $"'root={rootText}' does not tell which system it is (active, passive or recovery)",
            $"use root=LABEL={BootKeys.ActiveLabel}, LABEL={BootKeys.PassiveLabel} or LABEL={BootKeys.SystemLabel}, or add '{BootKeys.BasaltMode}=active|passive|recovery'");

        if (reset && mode != BootMode.Recovery)
        {
            throw new InvalidBootCommandLineException(
                $"a reset was asked for while booting the {Name(mode)} system",
                "reset runs from the recovery system: boot the 'statereset' entry (root=LABEL=COS_SYSTEM or root=live:LABEL=COS_RECOVERY)");
        }

        var defaultImage = mode switch
        {
            BootMode.Active => BootKeys.ActiveImage,
            BootMode.Passive => BootKeys.PassiveImage,
            _ => BootKeys.RecoveryImage,
        };
        var image = imageFile ?? defaultImage;
        RejectImageFileMismatch(imageFile, defaultImage, $"root={rootText ?? Name(mode)}");
        var container = DeviceReference.Label(mode == BootMode.Recovery ? BootKeys.RecoveryLabel : BootKeys.StateLabel);
        var format = image.EndsWith(".squashfs", StringComparison.Ordinal) ? RootImageFormat.Squashfs : RootImageFormat.FileSystemImage;
        return (mode, container, image, format, root, null);
    }

    private static BootMode? ReadExplicitMode(KernelCommandLine line)
    {
        var values = line.GetValues(BootKeys.BasaltMode).Distinct(StringComparer.Ordinal).ToList();
        if (values.Count > 1)
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.BasaltMode}' is given twice with different values ({string.Join(", ", values)})",
                $"keep one '{BootKeys.BasaltMode}='");
        }

        if (values.Count == 0)
        {
            if (line.Has(BootKeys.BasaltMode))
            {
                throw new InvalidBootCommandLineException($"'{BootKeys.BasaltMode}' needs a value", $"write '{BootKeys.BasaltMode}=active|passive|recovery|live'");
            }

            return null;
        }

        return values[0] switch
        {
            "active" => BootMode.Active,
            "passive" => BootMode.Passive,
            "recovery" => BootMode.Recovery,
            "live" => BootMode.Live,
            _ => throw new InvalidBootCommandLineException(
                $"unknown boot mode '{BootKeys.BasaltMode}={values[0]}'",
                $"write '{BootKeys.BasaltMode}=active', 'passive', 'recovery' or 'live'"),
        };
    }

    private static void Require(BootMode? explicitMode, BootMode implied, string because)
    {
        if (explicitMode is not null && explicitMode != implied)
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.BasaltMode}={Name(explicitMode.Value)}' contradicts '{because}', which means a {Name(implied)} boot",
                $"drop '{BootKeys.BasaltMode}=' or make it '{BootKeys.BasaltMode}={Name(implied)}'");
        }
    }

    private static void RejectLiveUrl(Uri? liveUrl, BootMode mode)
    {
        if (liveUrl is not null)
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.BasaltLiveUrl}' is only for live boots, but this is a {Name(mode)} boot",
                $"drop '{BootKeys.BasaltLiveUrl}=' or boot with '{BootKeys.BasaltMode}=live'");
        }
    }

    private static void RejectImageFileMismatch(string? imageFile, string expected, string because)
    {
        string[] known = [BootKeys.ActiveImage, BootKeys.PassiveImage, BootKeys.RecoveryImage, BootKeys.RecoverySquashfs];
        if (imageFile is not null && imageFile != expected && known.Contains(imageFile))
        {
            throw new InvalidBootCommandLineException(
                $"'{BootKeys.ImageFile}={imageFile}' contradicts '{because}'",
                $"write '{BootKeys.ImageFile}={expected}' or change root= to the label of {imageFile}");
        }
    }

    private static string CombineLivePath(string directory, string image) =>
        image.StartsWith('/') ? image : "/" + string.Join('/', new[] { directory.Trim('/'), image }.Where(s => s.Length > 0));

    internal static string Name(BootMode mode) => mode switch
    {
        BootMode.Active => "active",
        BootMode.Passive => "passive",
        BootMode.Recovery => "recovery",
        _ => "live",
    };
}
