using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Basalt.Platform;
using Xunit;

namespace Basalt.Testing;

public enum RegistryAuthMode
{
    /// <summary>No authentication.</summary>
    Anonymous,

    /// <summary>HTTP basic authentication against an htpasswd file (bcrypt).</summary>
    Basic,

    /// <summary>Bearer tokens from an in-process <see cref="TokenServer"/>, which itself wants basic credentials.</summary>
    Token,
}

public sealed record RegistryCredentials(string Username, string Password);

/// <summary>
/// A real registry for integration tests: Debian's <c>docker-registry</c> (distribution 2.8) on a free
/// 127.0.0.1 port with a temporary storage directory, killed and removed on dispose. Use it as an xunit
/// class fixture (<see cref="RegistryFixture"/>, <see cref="BasicAuthRegistryFixture"/>,
/// <see cref="TokenAuthRegistryFixture"/>) or start one for a single test with <see cref="StartAsync"/>.
/// </summary>
public class RegistryFixture : IAsyncLifetime, IAsyncDisposable, IDisposable
{
    private const int LogLines = 200;
    private readonly Queue<string> _log = new();
    private readonly Lock _logLock = new();
    private TempDirectory? _directory;
    private Process? _process;
    private bool _disposed;

    public RegistryFixture()
        : this(RegistryAuthMode.Anonymous)
    {
    }

    protected RegistryFixture(RegistryAuthMode mode)
    {
        Mode = mode;
        if (mode != RegistryAuthMode.Anonymous)
        {
            Credentials = new RegistryCredentials("basalt", "s3cret-" + Guid.NewGuid().ToString("N")[..8]);
        }
    }

    public RegistryAuthMode Mode { get; }

    /// <summary>User and password the registry (basic) or its token server (token) accepts; null when anonymous.</summary>
    public RegistryCredentials? Credentials { get; }

    /// <summary>The token server, in <see cref="RegistryAuthMode.Token"/> mode.</summary>
    public TokenServer? TokenServer { get; private set; }

    public int Port { get; private set; }

    /// <summary>The registry host as it appears in image references and docker config files: <c>127.0.0.1:PORT</c>.</summary>
    public string Host => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public Uri BaseAddress => new($"http://{Host}/");

    /// <summary>The directory the registry stores blobs and manifests in.</summary>
    public string StorageDirectory => _directory?.Combine("storage") ?? throw new InvalidOperationException("registry not started");

    /// <summary>The last lines the registry printed (access log and errors), for failure messages.</summary>
    public string RecentLog
    {
        get
        {
            lock (_logLock)
            {
                return string.Join('\n', _log);
            }
        }
    }

    public string Reference(string repository, string tag = "latest") => $"{Host}/{repository}:{tag}";

    public static async Task<RegistryFixture> StartAsync(RegistryAuthMode mode = RegistryAuthMode.Anonymous, CancellationToken cancellationToken = default)
    {
        var fixture = new RegistryFixture(mode);
        try
        {
            await fixture.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>An HttpClient for raw distribution API calls; adds basic credentials when <paramref name="authenticate"/>.</summary>
    public HttpClient CreateHttpClient(bool authenticate = false)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { BaseAddress = BaseAddress };
        if (authenticate && Credentials is { } credentials)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}")));
        }

        return client;
    }

    /// <summary>Writes a docker config.json holding this registry's credentials (none when anonymous).</summary>
    public DockerConfigFile WriteDockerConfig(string directory)
    {
        var config = new DockerConfigFile(directory);
        if (Credentials is { } credentials)
        {
            config.Add(Host, credentials.Username, credentials.Password);
        }

        config.Save();
        return config;
    }

    async Task IAsyncLifetime.InitializeAsync() => await StartCoreAsync(CancellationToken.None).ConfigureAwait(false);

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        StopProcess();
        if (TokenServer is { } tokenServer)
        {
            TokenServer = null;
            await tokenServer.DisposeAsync().ConfigureAwait(false);
        }

        DisposeDirectory();
        GC.SuppressFinalize(this);
    }

    public void Dispose()
    {
        StopProcess();
        if (TokenServer is { } tokenServer)
        {
            TokenServer = null;
            tokenServer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        DisposeDirectory();
        GC.SuppressFinalize(this);
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var registry = Requires.Tool("docker-registry", "docker-registry");
        _directory = new TempDirectory("registry");
        Directory.CreateDirectory(StorageDirectory);
        var authSection = await PrepareAuthAsync(cancellationToken).ConfigureAwait(false);

        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            Port = LoopbackPort.Next();
            var configPath = _directory.Combine("config.yml");
            await File.WriteAllTextAsync(configPath, Config(authSection), cancellationToken).ConfigureAwait(false);
            StartProcess(registry, configPath);
            if (await WaitUntilAnsweringAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            failures.AppendLine(CultureInfo.InvariantCulture, $"attempt {attempt} on port {Port}: {RecentLog}");
            StopProcess();
        }

        throw new InvalidOperationException($"docker-registry did not answer GET /v2/:\n{failures}");
    }

    private async Task<string> PrepareAuthAsync(CancellationToken cancellationToken)
    {
        switch (Mode)
        {
            case RegistryAuthMode.Basic:
                {
                    var htpasswd = Requires.Tool("htpasswd", "apache2-utils");
                    var credentials = Credentials!;
                    var result = await new ToolRunner().RunAsync(
                        new ToolInvocation(htpasswd, ["-Bbn", credentials.Username, credentials.Password]) { Package = "apache2-utils" },
                        cancellationToken).ConfigureAwait(false);
                    var path = _directory!.Combine("htpasswd");
                    await File.WriteAllTextAsync(path, result.StandardOutput.Trim() + "\n", cancellationToken).ConfigureAwait(false);
                    return $"""
                        auth:
                          htpasswd:
                            realm: basalt-test-registry
                            path: {path}
                        """;
                }

            case RegistryAuthMode.Token:
                {
                    TokenServer = await TokenServer.StartAsync("basalt-test-registry", "basalt-test-issuer", Credentials, cancellationToken: cancellationToken).ConfigureAwait(false);
                    var bundle = _directory!.Combine("token-root.pem");
                    await File.WriteAllTextAsync(bundle, TokenServer.CertificatePem, cancellationToken).ConfigureAwait(false);
                    return $"""
                        auth:
                          token:
                            realm: {TokenServer.Realm}
                            service: {TokenServer.Service}
                            issuer: {TokenServer.Issuer}
                            rootcertbundle: {bundle}
                        """;
                }

            default:
                return string.Empty;
        }
    }

    private string Config(string authSection) => $"""
        version: 0.1
        log:
          level: info
          accesslog:
            disabled: false
        storage:
          filesystem:
            rootdirectory: {StorageDirectory}
          delete:
            enabled: true
          maintenance:
            uploadpurging:
              enabled: false
        http:
          addr: 127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}
          secret: basalt-test-{Guid.NewGuid():N}
        {authSection}

        """;

    private void StartProcess(string registry, string configPath)
    {
        lock (_logLock)
        {
            _log.Clear();
        }

        var startInfo = new ProcessStartInfo(registry)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("serve");
        startInfo.ArgumentList.Add(configPath);
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Record(e.Data);
        process.ErrorDataReceived += (_, e) => Record(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            _log.Enqueue(line);
            while (_log.Count > LogLines)
            {
                _log.Dequeue();
            }
        }
    }

    private async Task<bool> WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        using var client = CreateHttpClient();
        client.Timeout = TimeSpan.FromSeconds(2);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (_process is null || _process.HasExited)
            {
                return false;
            }

            try
            {
                using var response = await client.GetAsync(new Uri("v2/", UriKind.Relative), cancellationToken).ConfigureAwait(false);
                var expected = Mode == RegistryAuthMode.Anonymous ? HttpStatusCode.OK : HttpStatusCode.Unauthorized;
                if (response.StatusCode == expected)
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

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    private void StopProcess()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            process.Dispose();
        }
    }

    private void DisposeDirectory()
    {
        _disposed = true;
        _directory?.Dispose();
        _directory = null;
    }
}

/// <summary>A registry that wants HTTP basic credentials (<see cref="RegistryFixture.Credentials"/>).</summary>
public sealed class BasicAuthRegistryFixture : RegistryFixture
{
    public BasicAuthRegistryFixture()
        : base(RegistryAuthMode.Basic)
    {
    }
}

/// <summary>A registry that wants bearer tokens from its <see cref="RegistryFixture.TokenServer"/>.</summary>
public sealed class TokenAuthRegistryFixture : RegistryFixture
{
    public TokenAuthRegistryFixture()
        : base(RegistryAuthMode.Token)
    {
    }
}
