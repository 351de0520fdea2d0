using System.Net;
using Basalt.Build.Artifacts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace Basalt.Build.Netboot;

/// <summary>What <c>basalt serve netboot</c> serves and where it listens.</summary>
public sealed record NetbootServerOptions
{
    public const string CloudConfigPath = "/cloud-config.yaml";

    /// <summary>A directory made by <c>basalt build netboot</c>.</summary>
    public required string Directory { get; init; }

    /// <summary>A cloud-config served at <see cref="CloudConfigPath"/>; the iPXE script then gives nodes <c>config_url=</c> to it. Null: none.</summary>
    public string? CloudConfigFile { get; init; }

    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 8080);
}

/// <summary>One request a node made, as the server logs it.</summary>
public sealed record NetbootFetch(string Client, string Method, string Path, int Status, string? Range);

/// <summary>
/// Serves a netboot directory over HTTP (Kestrel): the files with Range support (a node resumes a squashfs download),
/// <c>boot.ipxe</c> rendered with the address the node used, the cloud-config when given. Every request is logged with
/// the node's address. Disposing stops it.
/// </summary>
public sealed class NetbootServer : IAsyncDisposable
{
    private static readonly string[] RequiredFiles =
    [
        NetbootArtifactPlan.KernelName, NetbootArtifactPlan.InitrdName, NetbootArtifactPlan.SquashfsName, NetbootArtifactPlan.CommandLineName,
    ];

    private readonly WebApplication _app;

    private NetbootServer(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:8080/</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>
    /// Checks the directory and the cloud-config (<see cref="NetbootDirectoryException"/>,
    /// <see cref="CloudConfigNotFoundException"/>, <see cref="InvalidCloudConfigException"/>), binds the port
    /// (<see cref="NetbootPortInUseException"/>) and starts serving; <paramref name="log"/> gets every request.
    /// </summary>
    public static async Task<NetbootServer> StartAsync(NetbootServerOptions options, Action<NetbootFetch> log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        var directory = Path.GetFullPath(options.Directory);
        var missing = RequiredFiles.Where(name => !File.Exists(Path.Combine(directory, name))).ToList();
        if (!System.IO.Directory.Exists(directory) || missing.Count > 0)
        {
            throw new NetbootDirectoryException(directory, missing.Count > 0 ? missing : RequiredFiles);
        }

        string? cloudConfig = null;
        if (options.CloudConfigFile is { } configFile)
        {
            cloudConfig = Path.GetFullPath(configFile);
            // A file the node's collector would skip (no header, bad YAML) is refused here, where someone reads the error.
            CloudConfigFile.EnsureValid(cloudConfig);
        }

        var arguments = (await File.ReadAllTextAsync(Path.Combine(directory, NetbootArtifactPlan.CommandLineName), cancellationToken).ConfigureAwait(false))
            .Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = directory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(options.Listen));
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            log(new NetbootFetch(
                context.Connection.RemoteIpAddress?.ToString() ?? "?",
                context.Request.Method,
                context.Request.Path.Value ?? "/",
                context.Response.StatusCode,
                context.Request.Headers.Range.Count > 0 ? context.Request.Headers.Range.ToString() : null));
        });
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value;
            if (path == "/" + NetbootArtifactPlan.IpxeName)
            {
                // The address the node reached us at is the one it can fetch the rest from.
                var baseUrl = new Uri($"{context.Request.Scheme}://{context.Request.Host}/");
                context.Response.ContentType = "text/plain; charset=utf-8";
                // A node told nothing of the cloud-config would never fetch it: the script points it there.
                var configUrl = cloudConfig is null ? null : new Uri(baseUrl, NetbootServerOptions.CloudConfigPath.TrimStart('/'));
                await context.Response.WriteAsync(NetbootArtifactPlan.IpxeScript(arguments, baseUrl, configUrl), context.RequestAborted).ConfigureAwait(false);
                return;
            }

            if (path == NetbootServerOptions.CloudConfigPath && cloudConfig is not null)
            {
                context.Response.ContentType = "text/yaml; charset=utf-8";
                await context.Response.SendFileAsync(cloudConfig, context.RequestAborted).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(directory),
            ServeUnknownFileTypes = true,
            DefaultContentType = "application/octet-stream",
        });
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException exception)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new NetbootPortInUseException(options.Listen, exception);
        }

        // The bound address (port 0 asks for any free port).
        var bound = new Uri(app.Urls.First());
        var host = options.Listen.Address.Equals(IPAddress.Any) ? "127.0.0.1" : bound.Host;
        return new NetbootServer(app, new Uri($"http://{host}:{bound.Port}/"));
    }

    /// <summary>Serves until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunUntilCancelledAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The netboot directory lacks files a node fetches.</summary>
public sealed class NetbootDirectoryException : BuildException
{
    public NetbootDirectoryException(string directory, IReadOnlyList<string> missing)
        : base($"'{directory}' is not a netboot directory: it lacks {string.Join(", ", missing ?? [])}", "make one with: basalt build netboot IMAGE -o DIR")
    {
        Directory = directory;
        Missing = missing ?? [];
    }

    public string Directory { get; }
    public IReadOnlyList<string> Missing { get; }
    public override string Kind => "artifact-missing";
}

/// <summary>The address to listen on is taken.</summary>
public sealed class NetbootPortInUseException : BuildException
{
    public NetbootPortInUseException(IPEndPoint endpoint, Exception inner)
        : base($"cannot listen on {endpoint}: {inner?.Message}", "stop what uses that port or pick another with --listen 127.0.0.1:PORT", inner)
    {
        Endpoint = endpoint;
    }

    public IPEndPoint Endpoint { get; }
    public override string Kind => "port-in-use";
}
