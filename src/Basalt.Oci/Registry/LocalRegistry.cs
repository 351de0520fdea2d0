using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Basalt.Platform;

namespace Basalt.Oci.Registry;

/// <summary>
/// A throw-away local registry: Debian's <c>docker-registry</c> (distribution 2.8) serving plain HTTP on
/// 127.0.0.1, its blobs and manifests in a directory the caller owns. Disposing kills it; the storage stays where
/// the caller put it (a temporary directory is the caller's to remove, a cache directory outlives the process).
/// </summary>
public sealed class LocalRegistry : IAsyncDisposable
{
    public const string Tool = "docker-registry";
    public const string Package = "docker-registry";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly BackgroundProcess _process;

    private LocalRegistry(BackgroundProcess process, int port, string storageDirectory)
    {
        _process = process;
        Port = port;
        StorageDirectory = storageDirectory;
    }

    public int Port { get; }

    public string StorageDirectory { get; }

    /// <summary>The registry as image references name it on this host: <c>127.0.0.1:PORT</c>.</summary>
    public string Host => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public int ProcessId => _process.ProcessId;

    /// <summary>What the registry printed so far (errors, access log).</summary>
    public string Log => _process.Output;

    /// <summary>
    /// Starts a registry on <paramref name="port"/> (null: a free port, retried when another process takes it first)
    /// with its storage under <paramref name="storageDirectory"/>; returns once <c>GET /v2/</c> answers.
    /// </summary>
    public static async Task<LocalRegistry> StartAsync(string storageDirectory, int? port, IToolRunner tools, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(storageDirectory);
        ArgumentNullException.ThrowIfNull(tools);
        if (tools.Locate(Tool) is null)
        {
            throw new ToolNotFoundException(Tool, Package);
        }

        var storage = Path.GetFullPath(storageDirectory);
        Directory.CreateDirectory(storage);
        var attempts = port is null ? 5 : 1;
        var failures = new List<string>();
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            var chosen = port ?? FreePort();
            if (port is not null)
            {
                EnsureFree(chosen);
            }

            var config = Path.Combine(storage, "registry.yml");
            await File.WriteAllTextAsync(config, Config(storage, chosen), cancellationToken).ConfigureAwait(false);
            var process = BackgroundProcess.Start(new ToolInvocation(Tool, ["serve", config]) { Package = Package }, tools, Path.Combine(storage, "registry.log"));
            var registry = new LocalRegistry(process, chosen, storage);
            try
            {
                if (await registry.WaitUntilAnsweringAsync(cancellationToken).ConfigureAwait(false))
                {
                    return registry;
                }
            }
            catch
            {
                await registry.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            failures.Add(string.Create(CultureInfo.InvariantCulture, $"port {chosen}: {Tail(registry.Log)}"));
            await registry.DisposeAsync().ConfigureAwait(false);
        }

        throw new LocalRegistryStartException(string.Join("; ", failures));
    }

    /// <summary>Throws <see cref="RegistryPortInUseException"/> when something already listens on 127.0.0.1:<paramref name="port"/>.</summary>
    public static void EnsureFree(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
        catch (SocketException exception)
        {
            throw new RegistryPortInUseException(port, exception.Message);
        }
    }

    /// <summary>Whether 127.0.0.1:<paramref name="port"/> can be listened on right now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            EnsureFree(port);
            return true;
        }
        catch (RegistryPortInUseException)
        {
            return false;
        }
    }

    /// <summary>A port that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private async Task<bool> WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(2) };
        var endpoint = new Uri($"http://{Host}/v2/");
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                return false;
            }

            try
            {
                using var response = await client.GetAsync(endpoint, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    private static string Config(string storage, int port) => string.Create(CultureInfo.InvariantCulture, $"""
        version: 0.1
        log:
          level: warn
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: {Path.Combine(storage, "data")}
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:{port}
          secret: basalt-local-{Guid.NewGuid():N}

        """);

    private static string Tail(string text) => text.Length <= 400 ? text.Trim() : text[^400..].Trim();
}

public sealed class RegistryPortInUseException : OciException
{
    public RegistryPortInUseException(int port, string reason)
        : base(string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port} is already in use ({reason}); the local registry cannot listen there"),
               "pick another port, or leave the port out and a free one is chosen")
    {
        Port = port;
    }

    public int Port { get; }

    public override string Kind => "port-in-use";
}

public sealed class LocalRegistryStartException : OciException
{
    public LocalRegistryStartException(string details)
        : base($"docker-registry did not start: {details}", "check that docker-registry runs here: docker-registry --version")
    {
    }

    public override string Kind => "registry-start-failed";
}
