using Basalt.Platform;

namespace Basalt.Testing;

/// <summary>
/// The reference OCI tools Basalt is checked against: umoci builds and unpacks images, skopeo copies and
/// inspects them. Each call fails the test (through <see cref="Requires"/>) when the tool is missing.
/// </summary>
public sealed class ReferenceTools
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(10);
    private readonly IToolRunner _runner;

    public ReferenceTools(IToolRunner? runner = null)
    {
        _runner = runner ?? new ToolRunner();
    }

    /// <summary>
    /// Builds an OCI layout at <paramref name="layout"/> whose image <paramref name="tag"/> has one layer holding the
    /// tree under <paramref name="rootfs"/> (copied with <c>cp -a</c>, so owners, modes and links are kept). Needs root.
    /// </summary>
    public async Task BuildImageWithUmociAsync(string layout, string tag, string rootfs, CancellationToken cancellationToken = default)
    {
        var umoci = Requires.Tool("umoci", "umoci");
        Requires.Root();
        var image = $"{layout}:{tag}";
        if (!File.Exists(Path.Combine(layout, "oci-layout")))
        {
            await RunAsync(umoci, "umoci", cancellationToken, "init", "--layout", layout).ConfigureAwait(false);
        }

        await RunAsync(umoci, "umoci", cancellationToken, "new", "--image", image).ConfigureAwait(false);
        var bundle = layout.TrimEnd('/') + ".bundle-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await RunAsync(umoci, "umoci", cancellationToken, "unpack", "--image", image, bundle).ConfigureAwait(false);
            await RunAsync("cp", "coreutils", cancellationToken, "-a", "--", rootfs.TrimEnd('/') + "/.", Path.Combine(bundle, "rootfs")).ConfigureAwait(false);
            await RunAsync(umoci, "umoci", cancellationToken, "repack", "--image", image, bundle).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(bundle))
            {
                Directory.Delete(bundle, recursive: true);
            }
        }
    }

    /// <summary><c>umoci unpack</c> of <paramref name="layout"/>:<paramref name="tag"/>; returns the rootfs directory of the bundle.</summary>
    public async Task<string> UnpackWithUmociAsync(string layout, string tag, string bundle, CancellationToken cancellationToken = default)
    {
        var umoci = Requires.Tool("umoci", "umoci");
        Requires.Root();
        await RunAsync(umoci, "umoci", cancellationToken, "unpack", "--image", $"{layout}:{tag}", bundle).ConfigureAwait(false);
        return Path.Combine(bundle, "rootfs");
    }

    /// <summary>
    /// <c>skopeo copy SOURCE DESTINATION</c> with TLS verification off (the test registries speak plain http on
    /// loopback) and, when given, the credentials in <paramref name="authFile"/> for both ends.
    /// Transports as skopeo names them: <c>docker://HOST/REPO:TAG</c>, <c>oci:DIR:TAG</c>.
    /// </summary>
    public async Task CopyWithSkopeoAsync(string source, string destination, string? authFile = null, CancellationToken cancellationToken = default)
    {
        var skopeo = Requires.Tool("skopeo", "skopeo");
        List<string> arguments = ["copy", "--insecure-policy", "--src-tls-verify=false", "--dest-tls-verify=false"];
        if (authFile is not null)
        {
            arguments.AddRange(["--src-authfile", authFile, "--dest-authfile", authFile]);
        }

        arguments.AddRange([source, destination]);
        await RunAsync(skopeo, "skopeo", cancellationToken, [.. arguments]).ConfigureAwait(false);
    }

    /// <summary><c>skopeo inspect</c> (or <c>--raw</c> for the manifest as stored); returns skopeo's JSON output.</summary>
    public async Task<string> InspectWithSkopeoAsync(string image, string? authFile = null, bool raw = false, CancellationToken cancellationToken = default)
    {
        var skopeo = Requires.Tool("skopeo", "skopeo");
        List<string> arguments = ["inspect", "--tls-verify=false"];
        if (raw)
        {
            arguments.Add("--raw");
        }

        if (authFile is not null)
        {
            arguments.AddRange(["--authfile", authFile]);
        }

        arguments.Add(image);
        var result = await RunAsync(skopeo, "skopeo", cancellationToken, [.. arguments]).ConfigureAwait(false);
        return result.StandardOutput;
    }

    private Task<ToolResult> RunAsync(string tool, string package, CancellationToken cancellationToken, params string[] arguments) =>
        _runner.RunAsync(new ToolInvocation(tool, arguments) { Package = package, Timeout = ToolTimeout }, cancellationToken);
}
