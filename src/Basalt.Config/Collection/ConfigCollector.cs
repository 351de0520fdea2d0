using System.Net;
using System.Text.Json.Nodes;
using Basalt.Config.Model;
using Basalt.Config.Yaml;

namespace Basalt.Config.Collection;

/// <summary>
/// Collects cloud-config the way Kairos does: header-checked <c>.yaml</c>/<c>.yml</c> files from the scan
/// directories (recursively, lexicographic), then caller-given config, then the kernel command line; each source
/// first absorbs the config its <c>config_url</c> points at (recursively), then merges into the result.
/// Every source is parsed and validated on its own first: an invalid one is reported and not applied, so one
/// bad file never stops a boot and never half-applies.
/// </summary>
public sealed class ConfigCollector
{
    /// <summary>First-line markers Kairos accepts (within the first 10 lines).</summary>
    public static IReadOnlyList<string> ValidHeaders { get; } = ["#cloud-config", "#kairos-config", "#node-config"];

    private readonly HttpMessageHandler? _handler;

    /// <param name="handler">Handler for <c>config_url</c> fetches (a fake in tests); a fresh socket handler when null.</param>
    public ConfigCollector(HttpMessageHandler? handler = null)
    {
        _handler = handler;
    }

    /// <summary>Whether one of the first 10 lines is a valid header, as kairos-sdk's HasValidHeader checks.</summary>
    public static bool HasValidHeader(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var line in text.Split('\n', 10).Take(10))
        {
            var header = line.TrimEnd();
            if (ValidHeaders.Contains(header, StringComparer.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The candidate files of the scan directories under <paramref name="root"/>, in merge order.</summary>
    public static IReadOnlyList<(string NodePath, string HostPath)> ListFiles(string root, IEnumerable<string> directories)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(directories);
        var files = new List<(string, string)>();
        foreach (var directory in directories)
        {
            var host = Path.Join(root, directory.TrimStart('/'));
            if (Directory.Exists(host))
            {
                Walk(directory.TrimEnd('/'), host, files);
            }
        }

        return files;
    }

    /// <summary>Collects, validates and merges every source.</summary>
    public async Task<MergedConfig> CollectAsync(ConfigCollectorOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var run = new Run(this, options);
        foreach (var (nodePath, hostPath) in ListFiles(options.Root, options.Directories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await run.AddFileAsync(nodePath, hostPath, cancellationToken).ConfigureAwait(false);
        }

        foreach (var input in options.Inputs)
        {
            await run.AddDocumentAsync(() => YamlDocumentLoader.Load(input.Text, input.Source, options.Limits), input.Source, cancellationToken).ConfigureAwait(false);
        }

        if (!string.IsNullOrWhiteSpace(options.KernelCommandLine))
        {
            // A command line with nothing for the config (the usual case) is not listed as a source.
            var commandLine = KernelCommandLine.Parse(options.KernelCommandLine);
            if (commandLine.Root.Count > 0 || commandLine.Warnings.Count > 0)
            {
                await run.AddDocumentAsync(() => commandLine, KernelCommandLine.SourceName, cancellationToken).ConfigureAwait(false);
            }
        }

        return run.Result();
    }

    /// <summary>
    /// Reads and validates one file or http(s) URL on its own, as <c>basalt config validate</c> does; its own
    /// <c>config_url</c> is not followed. Syntax errors become error findings rather than exceptions.
    /// </summary>
    public async Task<ConfigValidation?> ValidateSourceAsync(string fileOrUrl, ConfigCollectorOptions options, List<ConfigIssue> issues, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileOrUrl);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(issues);
        byte[] bytes;
        if (IsUrl(fileOrUrl))
        {
            bytes = await FetchAsync(new Uri(fileOrUrl), options, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            try
            {
                bytes = await File.ReadAllBytesAsync(fileOrUrl, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigSourceException(fileOrUrl, $"cannot read: {e.Message}", "Check that the file exists and is readable.", e);
            }
        }

        if (bytes.Length > options.MaxFileSize)
        {
            issues.Add(new ConfigIssue(ConfigIssueSeverity.Warning, new SourcePosition(fileOrUrl, 0, 0), "$", $"larger than {options.MaxFileSize} bytes: skipped at boot"));
        }

        ConfigDocument document;
        try
        {
            document = YamlDocumentLoader.Load(bytes, fileOrUrl, options.Limits);
        }
        catch (ConfigSyntaxException e)
        {
            issues.Add(new ConfigIssue(ConfigIssueSeverity.Error, e.Position, "$", e.Problem));
            return null;
        }

        if (!HasValidHeader(document.Header is null ? FirstLines(bytes) : document.Header))
        {
            issues.Add(new ConfigIssue(ConfigIssueSeverity.Warning, document.Start, "$", "no #cloud-config header in the first 10 lines: this file is skipped at boot"));
        }

        var validation = ConfigValidator.Validate(document);
        issues.AddRange(validation.Issues);
        return validation;
    }

    internal static bool IsUrl(string text) =>
        text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static string FirstLines(byte[] bytes) => System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 4096));

    private static void Walk(string nodeDirectory, string hostDirectory, List<(string, string)> files)
    {
        IEnumerable<FileSystemInfo> entries;
        try
        {
            entries = new DirectoryInfo(hostDirectory).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (var entry in entries)
        {
            var nodePath = nodeDirectory + "/" + entry.Name;
            // Like Go's filepath.Walk: descend into real directories, never through a symlink to one.
            if (entry is DirectoryInfo && entry.LinkTarget is null)
            {
                Walk(nodePath, entry.FullName, files);
            }
            else if (entry is FileInfo)
            {
                files.Add((nodePath, entry.FullName));
            }
        }
    }

    private async Task<byte[]> FetchAsync(Uri url, ConfigCollectorOptions options, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(_handler ?? new SocketsHttpHandler(), disposeHandler: _handler is null) { Timeout = options.FetchTimeout };
        Exception? last = null;
        for (var attempt = 1; attempt <= Math.Max(1, options.FetchAttempts); attempt++)
        {
            if (attempt > 1 && options.FetchRetryDelay > TimeSpan.Zero)
            {
                await Task.Delay(options.FetchRetryDelay, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    last = new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                    continue;
                }

                var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    using var buffer = new MemoryStream();
                    var chunk = new byte[81920];
                    int read;
                    while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        buffer.Write(chunk, 0, read);
                        if (buffer.Length > options.MaxFileSize)
                        {
                            throw new ConfigSourceException(url.ToString(), $"larger than {options.MaxFileSize} bytes", "Serve a smaller config.");
                        }
                    }

                    return buffer.ToArray();
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }

        throw new ConfigSourceException(
            url.ToString(),
            $"cannot fetch after {Math.Max(1, options.FetchAttempts)} attempts: {(last is TaskCanceledException ? $"timed out after {options.FetchTimeout.TotalSeconds:0.#} s" : last?.Message)}",
            "Check that the URL is reachable from the node.",
            last);
    }

    /// <summary>One collection: the result so far and the findings.</summary>
    private sealed class Run(ConfigCollector owner, ConfigCollectorOptions options)
    {
        private JsonObject _root = new();
        private readonly List<string> _sources = [];
        private readonly List<SourcedStages> _stages = [];
        private readonly List<SkippedSource> _skipped = [];
        private readonly List<ConfigIssue> _issues = [];

        public async Task AddFileAsync(string nodePath, string hostPath, CancellationToken cancellationToken)
        {
            var extension = Path.GetExtension(nodePath);
            if (extension is not (".yaml" or ".yml"))
            {
                _skipped.Add(new SkippedSource(nodePath, "not a .yaml or .yml file"));
                return;
            }

            long length;
            byte[] bytes;
            try
            {
                length = new FileInfo(hostPath).Length;
                if (length > options.MaxFileSize)
                {
                    Skip(nodePath, $"larger than {options.MaxFileSize} bytes ({length}): skipped", warn: true);
                    return;
                }

                bytes = await File.ReadAllBytesAsync(hostPath, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Skip(nodePath, $"cannot read: {e.Message}", warn: true);
                return;
            }

            if (!HasValidHeader(FirstLines(bytes)))
            {
                _skipped.Add(new SkippedSource(nodePath, "no #cloud-config header"));
                return;
            }

            await AddDocumentAsync(() => YamlDocumentLoader.Load(bytes, nodePath, options.Limits), nodePath, cancellationToken).ConfigureAwait(false);
        }

        public async Task AddDocumentAsync(Func<ConfigDocument> load, string source, CancellationToken cancellationToken)
        {
            var loaded = await LoadChainAsync(load, source, depth: 0, [], cancellationToken).ConfigureAwait(false);
            if (loaded is null)
            {
                return;
            }

            var candidate = (JsonObject)_root.DeepClone();
            var clashes = new List<ConfigIssue>();
            ConfigMerger.MergeInto(candidate, loaded.Tree, (path, message) =>
                clashes.Add(new ConfigIssue(ConfigIssueSeverity.Warning, new SourcePosition(source, 0, 0), path, message)));
            _issues.AddRange(clashes);
            if (options.Strict && clashes.Count > 0)
            {
                _skipped.Add(new SkippedSource(source, "its values clash with earlier sources (--strict)"));
                return;
            }

            _root = candidate;
            _sources.AddRange(loaded.Sources);
            _stages.AddRange(loaded.Stages);
        }

        public MergedConfig Result()
        {
            var config = ConfigValidator.ToModel(_root, "merged");
            return new MergedConfig(_root, config, _sources, _stages, _skipped, _issues);
        }

        private async Task<Loaded?> LoadChainAsync(Func<ConfigDocument> load, string source, int depth, HashSet<string> visited, CancellationToken cancellationToken)
        {
            ConfigDocument document;
            try
            {
                document = load();
            }
            catch (ConfigSyntaxException e)
            {
                _issues.Add(new ConfigIssue(ConfigIssueSeverity.Error, e.Position, "$", e.Problem));
                _skipped.Add(new SkippedSource(source, "not valid YAML"));
                return null;
            }

            var validation = ConfigValidator.Validate(document);
            _issues.AddRange(validation.Issues);
            if (!validation.IsValid(options.Strict))
            {
                _skipped.Add(new SkippedSource(source, validation.HasErrors ? "invalid: not applied" : "has warnings and --strict is on: not applied"));
                return null;
            }

            var tree = document.Root;
            var loaded = new Loaded(tree, [source], tree["stages"] is JsonObject stages ? [new SourcedStages(source, (JsonObject)stages.DeepClone())] : []);
            if (tree["config_url"] is not JsonValue urlValue || !urlValue.TryGetValue<string>(out var url) || string.IsNullOrWhiteSpace(url))
            {
                return loaded;
            }

            var position = document.PositionOf(tree, "config_url");
            if (!IsUrl(url))
            {
                Warn(position, "$.config_url", $"'{url}' is not an http(s) URL; not fetched");
                return loaded;
            }

            if (depth >= options.MaxConfigUrlDepth)
            {
                Warn(position, "$.config_url", $"config_url chain deeper than {options.MaxConfigUrlDepth}; {url} not fetched");
                return loaded;
            }

            if (!visited.Add(url))
            {
                Warn(position, "$.config_url", $"config_url {url} was already fetched in this chain (a loop); not fetched again");
                return loaded;
            }

            byte[] bytes;
            try
            {
                bytes = await owner.FetchAsync(new Uri(url), options, cancellationToken).ConfigureAwait(false);
            }
            catch (ConfigSourceException e)
            {
                Warn(position, "$.config_url", e.Message);
                _skipped.Add(new SkippedSource(url, "could not be fetched"));
                return loaded;
            }

            if (!HasValidHeader(FirstLines(bytes)))
            {
                Warn(position, "$.config_url", $"{url} has no #cloud-config header; ignored");
                _skipped.Add(new SkippedSource(url, "no #cloud-config header"));
                return loaded;
            }

            var remote = await LoadChainAsync(() => YamlDocumentLoader.Load(bytes, url, options.Limits), url, depth + 1, visited, cancellationToken).ConfigureAwait(false);
            if (remote is null)
            {
                return loaded;
            }

            // The fetched config merges over the one that named it (Kairos MergeConfigURL).
            var clashes = new List<ConfigIssue>();
            ConfigMerger.MergeInto(tree, remote.Tree, (path, message) =>
                clashes.Add(new ConfigIssue(ConfigIssueSeverity.Warning, new SourcePosition(url, 0, 0), path, message)));
            _issues.AddRange(clashes);
            return new Loaded(tree, [.. loaded.Sources, .. remote.Sources], [.. loaded.Stages, .. remote.Stages]);
        }

        private void Skip(string source, string reason, bool warn)
        {
            _skipped.Add(new SkippedSource(source, reason));
            if (warn)
            {
                Warn(new SourcePosition(source, 0, 0), "$", reason);
            }
        }

        private void Warn(SourcePosition position, string path, string message) =>
            _issues.Add(new ConfigIssue(ConfigIssueSeverity.Warning, position, path, message));
    }

    private sealed record Loaded(JsonObject Tree, IReadOnlyList<string> Sources, IReadOnlyList<SourcedStages> Stages);
}
