using Basalt.Cli.Hosting;
using Basalt.Oci.Manifests;
using Basalt.Oci.References;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>Turns command-line text into Basalt values; bad text is a usage error (exit 2).</summary>
internal static class CommandInputs
{
    public static ImageSource Source(string text) => AsUsage(() => ImageSource.Parse(text));

    public static ImageReference RegistryReference(string text)
    {
        var source = Source(text);
        return source is RegistrySource registry
            ? registry.Reference
            : throw new CliUsageException($"'{text}' is not a registry reference", "push to a registry reference such as localhost:5000/os:1.0; to write an OCI layout use 'basalt image save'");
    }

    public static PlatformSpec? Platform(GlobalSettings settings) =>
        settings.Platform is null ? null : AsUsage(() => PlatformSpec.Parse(settings.Platform));

    /// <summary>A tag for an OCI layout, checked by the same rules oci-layout:DIR:TAG is read back with.</summary>
    public static string? LayoutTag(string? tag)
    {
        if (tag is null)
        {
            return null;
        }

        return ImageSource.TryParse($"{ImageSource.LayoutPrefix}/layout:{tag}", out var parsed) && parsed is OciLayoutSource layout && layout.Tag == tag
            ? tag
            : throw new CliUsageException($"'{tag}' is not a valid tag", $"use letters, digits, '_', '.' and '-' (not first), at most {ImageReference.MaxTagLength} characters");
    }

    public static IReadOnlyDictionary<string, string> Labels(IEnumerable<string>? labels)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var label in labels ?? [])
        {
            var equals = label.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliUsageException($"label '{label}' is not KEY=VALUE", "write labels as --label org.opencontainers.image.version=1.0");
            }

            result[label[..equals]] = label[(equals + 1)..];
        }

        return result;
    }

    private static T AsUsage<T>(Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (BasaltException exception)
        {
            throw new CliUsageException(exception);
        }
    }
}
