using System.Globalization;
using System.IO.Compression;
using System.Text;
using Basalt.Platform;

namespace Basalt.Config.Stages;

/// <summary>
/// Carries out the actions of one step against the root, in yip's order. Each action that fails is
/// recorded and the next one still runs, as yip does.
/// </summary>
internal sealed partial class StepExecutor(StepContext context, StageStep step)
{
    internal const string SysctlFile = "/etc/sysctl.d/90-basalt.conf";
    internal const string ModulesFile = "/etc/modules-load.d/basalt.conf";
    internal const string ModprobeFile = "/etc/modprobe.d/basalt.conf";
    internal const string TimesyncdFile = "/etc/systemd/timesyncd.conf.d/10-basalt.conf";
    internal const string DefaultOverrideName = "override-basalt.conf";
    private static readonly TimeSpan DefaultDownloadTimeout = TimeSpan.FromMinutes(10);

    private readonly List<string> _actions = [];
    private readonly List<string> _errors = [];
    private AccountDatabase? _accounts;

    public IReadOnlyList<string> Actions => _actions;
    public IReadOnlyList<string> Errors => _errors;

    private bool DryRun => context.Options.DryRun;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (step.Dns is { Nameservers.Count: > 0 } dns)
        {
            await Do("dns", _ => WriteDns(dns), cancellationToken).ConfigureAwait(false);
        }

        foreach (var download in step.Downloads)
        {
            await Do($"download {download.Url}", ct => DownloadAsync(download, ct), cancellationToken).ConfigureAwait(false);
        }

        foreach (var directory in step.Directories)
        {
            await Do($"directory {directory.Path}", _ => EnsureDirectory(directory), cancellationToken).ConfigureAwait(false);
        }

        foreach (var file in step.Files)
        {
            await Do($"file {file.Path}", _ => WriteFile(file), cancellationToken).ConfigureAwait(false);
        }

        foreach (var command in step.Commands)
        {
            await Do("command", ct => RunCommandAsync(command, ct), cancellationToken).ConfigureAwait(false);
        }

        if (!string.IsNullOrEmpty(step.Hostname))
        {
            await Do("hostname", ct => SetHostnameAsync(step.Hostname, ct), cancellationToken).ConfigureAwait(false);
        }

        if (step.Sysctl.Count > 0)
        {
            await Do("sysctl", ApplySysctlAsync, cancellationToken).ConfigureAwait(false);
        }

        foreach (var user in step.Users)
        {
            await Do($"user {user.Name}", ct => EnsureUserAsync(user, ct), cancellationToken).ConfigureAwait(false);
        }

        foreach (var (user, keys) in step.AuthorizedKeys)
        {
            await Do($"authorized_keys {user}", ct => AuthorizeKeysAsync(user, keys, ct), cancellationToken).ConfigureAwait(false);
        }

        if (step.Modules.Count > 0)
        {
            await Do("modules", LoadModulesAsync, cancellationToken).ConfigureAwait(false);
        }

        if (step.Timesyncd.Count > 0)
        {
            await Do("timesyncd", _ => WriteTimesyncd(), cancellationToken).ConfigureAwait(false);
        }

        if (step.Systemctl is { } systemctl)
        {
            await Do("systemctl", ct => SystemctlAsync(systemctl, ct), cancellationToken).ConfigureAwait(false);
        }

        if (step.Environment.Count > 0)
        {
            await Do("environment", _ => WriteEnvironment(), cancellationToken).ConfigureAwait(false);
        }

        if (step.Layout is { } layout)
        {
            await Do("layout", ct => LayoutAsync(layout, ct), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task Do(string what, Func<CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        try
        {
            await action(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception error) when (error is BasaltException or IOException or UnauthorizedAccessException or HttpRequestException
                                       or InvalidDataException or FormatException or OperationCanceledException
                                       or System.Text.Json.JsonException)
        {
            _errors.Add($"{what}: {error.Message}");
        }
    }

    private Task Do(string what, Action<CancellationToken> action, CancellationToken cancellationToken) =>
        Do(what, ct =>
        {
            action(ct);
            return Task.CompletedTask;
        }, cancellationToken);

    private void Record(string action) => _actions.Add(action);

    private string Render(string text) => StageTemplate.Render(text, context.Templates);

    private AccountDatabase Accounts => _accounts ??= AccountDatabase.Load(context.Root);

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8).PadLeft(3, '0');

    // --- dns ---------------------------------------------------------------------------------------

    private void WriteDns(StageDns dns)
    {
        var path = string.IsNullOrEmpty(dns.Path) ? "/etc/resolv.conf" : dns.Path;
        var content = new StringBuilder();
        if (dns.Search.Count > 0 && string.Join(' ', dns.Search).Trim() != ".")
        {
            content.Append("search ").AppendJoin(' ', dns.Search).Append('\n');
        }

        foreach (var server in dns.Nameservers)
        {
            content.Append("nameserver ").Append(server).Append('\n');
        }

        if (dns.Options.Count > 0)
        {
            content.Append("options ").AppendJoin(' ', dns.Options).Append('\n');
        }

        Record($"write {path} with nameservers {string.Join(", ", dns.Nameservers)}");
        WriteText(path, content.ToString(), RootFiles.FileDefault);
    }

    // --- files and directories --------------------------------------------------------------------

    private void WriteText(string path, string content, UnixFileMode mode, (int, int)? owner = null)
    {
        if (DryRun)
        {
            return;
        }

        var host = context.Host(path);
        RootFiles.CreateDirectories(Path.GetDirectoryName(host)!, RootFiles.DirectoryDefault);
        RootFiles.WriteAtomic(host, Encoding.UTF8.GetBytes(content), mode, owner, context.Ownership);
    }

    private void EnsureDirectory(StageDirectory directory)
    {
        var mode = directory.Permissions ?? RootFiles.DirectoryDefault;
        var owner = OwnerOf(null, directory.Owner, directory.Group);
        Record($"directory {directory.Path} ({Octal(mode)}{Describe(owner)})");
        if (DryRun)
        {
            return;
        }

        var host = context.Host(directory.Path, followLast: true);
        if (File.Exists(host))
        {
            throw new StageStepException($"'{directory.Path}' exists and is not a directory");
        }

        var created = RootFiles.CreateDirectories(host, mode);
        foreach (var path in created.Count > 0 ? created : [host])
        {
            if (owner is { } o)
            {
                context.Ownership.ChangeOwner(path, o.Uid, o.Gid);
            }

            File.SetUnixFileMode(path, mode);
        }
    }

    private void WriteFile(StageFile file)
    {
        var bytes = Decode(file);
        if (file.Encoding == FileEncoding.Plain && StageTemplate.HasTemplate(file.Content))
        {
            try
            {
                bytes = Encoding.UTF8.GetBytes(Render(file.Content));
            }
            catch (StageTemplateException error)
            {
                // Files often carry templates of their own (Helm charts, k3s manifests): as yip does, such
                // content is written as it is; the note says why it was not rendered.
                Record($"{file.Path}: content written as given, not rendered ({error.Problem})");
            }
        }

        var mode = file.Permissions ?? RootFiles.FileDefault;
        var owner = OwnerOf(file.OwnerName, file.Owner, file.Group);
        Record($"file {file.Path} ({bytes.Length} bytes, {Octal(mode)}{Describe(owner)})");
        if (DryRun)
        {
            return;
        }

        var host = context.Host(file.Path);
        if (Directory.Exists(host))
        {
            throw new StageStepException($"'{file.Path}' is a directory");
        }

        RootFiles.CreateDirectories(Path.GetDirectoryName(host)!, RootFiles.DirectoryDefault);
        RootFiles.WriteAtomic(host, bytes, mode, owner, context.Ownership);
    }

    /// <summary>The owner to set: by name, by id (a missing half is 0, as in yip), or none when nothing was given.</summary>
    private (int Uid, int Gid)? OwnerOf(string? name, int? uid, int? gid) =>
        name is { Length: > 0 } ? ResolveOwner(name) : uid is null && gid is null ? null : (uid ?? 0, gid ?? 0);

    private static string Describe((int Uid, int Gid)? owner) => owner is { } o ? $", {o.Uid}:{o.Gid}" : string.Empty;

    internal static byte[] Decode(StageFile file)
    {
        try
        {
            return file.Encoding switch
            {
                FileEncoding.Base64 => Convert.FromBase64String(file.Content),
                FileEncoding.Gzip => Gunzip(Encoding.Latin1.GetBytes(file.Content)),
                FileEncoding.GzipBase64 => Gunzip(Convert.FromBase64String(file.Content)),
                _ => Encoding.UTF8.GetBytes(file.Content),
            };
        }
        catch (Exception error) when (error is FormatException or InvalidDataException)
        {
            throw new StageStepException($"content of '{file.Path}' is not valid {file.Encoding} data: {error.Message}");
        }
    }

    private static byte[] Gunzip(byte[] data)
    {
        using var input = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>"user", "user:group", or numeric ids, looked up in the root's own account files.</summary>
    private (int Uid, int Gid) ResolveOwner(string owner)
    {
        var parts = owner.Split(':', 2);
        var user = parts[0];
        int uid, gid;
        if (int.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out var numericUid))
        {
            uid = numericUid;
            gid = Accounts.Users.FirstOrDefault(u => u.Uid == numericUid)?.Gid ?? numericUid;
        }
        else
        {
            var entry = Accounts.FindUser(user) ?? throw new StageStepException($"owner '{owner}': no user '{user}' in the root's /etc/passwd");
            uid = entry.Uid;
            gid = entry.Gid;
        }

        if (parts.Length == 2 && parts[1].Length > 0)
        {
            gid = int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var numericGid)
                ? numericGid
                : Accounts.FindGroup(parts[1])?.Gid ?? throw new StageStepException($"owner '{owner}': no group '{parts[1]}' in the root's /etc/group");
        }

        return (uid, gid);
    }

    // --- downloads --------------------------------------------------------------------------------

    private async Task DownloadAsync(StageDownload download, CancellationToken cancellationToken)
    {
        var mode = download.Permissions ?? RootFiles.FileDefault;
        var owner = OwnerOf(download.OwnerName, download.Owner, download.Group);
        var target = download.Path;
        var host = context.Host(target);
        if (Directory.Exists(host) || target.EndsWith('/'))
        {
            // As grab does: a directory target gets the file name from the URL.
            var fileName = Path.GetFileName(new Uri(download.Url).AbsolutePath);
            if (string.IsNullOrEmpty(fileName))
            {
                throw new StageStepException($"cannot tell a file name from '{download.Url}' to put in '{target}'");
            }

            target = target.TrimEnd('/') + "/" + fileName;
            host = context.Host(target);
        }

        Record($"download {download.Url} to {target} ({Octal(mode)}{Describe(owner)})");
        if (DryRun)
        {
            return;
        }

        var bytes = await FetchAsync(download.Url, download.TimeoutSeconds > 0 ? TimeSpan.FromSeconds(download.TimeoutSeconds) : DefaultDownloadTimeout, cancellationToken).ConfigureAwait(false);
        RootFiles.CreateDirectories(Path.GetDirectoryName(host)!, RootFiles.DirectoryDefault);
        RootFiles.WriteAtomic(host, bytes, mode, owner, context.Ownership);
    }

    private async Task<byte[]> FetchAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        using var owned = context.Http is null ? new HttpClient() : null;
        var http = context.Http ?? owned!;
        try
        {
            using var response = await http.GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, limit.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new StageStepException($"GET {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            return await response.Content.ReadAsByteArrayAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StageStepException($"GET {url} timed out after {timeout.TotalSeconds:0} s");
        }
    }

    // --- commands ---------------------------------------------------------------------------------

    private async Task RunCommandAsync(string command, CancellationToken cancellationToken)
    {
        var rendered = Render(command);
        var invocation = context.Shell(rendered);
        Record($"run {invocation.CommandLine}");
        if (DryRun)
        {
            return;
        }

        var result = await context.RunShellAsync(rendered, acceptAnyExit: true, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            var output = (result.StandardError + result.StandardOutput).Trim();
            throw new StageStepException($"'{rendered}' exited {result.ExitCode}" + (output.Length > 0 ? ": " + Tail(output) : string.Empty));
        }
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : string.Concat("…", text.AsSpan(text.Length - 2000));

    // --- hostname ---------------------------------------------------------------------------------

    private async Task SetHostnameAsync(string template, CancellationToken cancellationToken)
    {
        var hostname = Render(template).Trim();
        if (hostname.Length is 0 or > 64 || !hostname.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
        {
            throw new StageStepException($"'{hostname}' is not a valid hostname (letters, digits, '-', '.', at most 64 characters)");
        }

        Record($"hostname {hostname} in /etc/hostname and /etc/hosts");
        if (DryRun)
        {
            return;
        }

        WriteText("/etc/hostname", hostname + "\n", RootFiles.FileDefault);
        var hostsPath = context.Host("/etc/hosts", followLast: true);
        var lines = File.Exists(hostsPath) ? File.ReadAllLines(hostsPath).ToList() : ["127.0.0.1\tlocalhost"];
        var entry = $"127.0.1.1\t{hostname}";
        var index = lines.FindIndex(line => line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() == "127.0.1.1");
        if (index >= 0)
        {
            lines[index] = entry;
        }
        else
        {
            var localhost = lines.FindIndex(line => line.StartsWith("127.0.0.1", StringComparison.Ordinal));
            lines.Insert(localhost + 1, entry);
        }

        WriteText("/etc/hosts", string.Concat(lines.Select(line => line + "\n")), RootFiles.FileDefault);
        if (context.IsHostRoot)
        {
            Record($"set the running hostname to {hostname}");
            await context.Tools.RunAsync(new ToolInvocation("hostname", [hostname]) { Package = "hostname" }, cancellationToken).ConfigureAwait(false);
        }
    }

    // --- sysctl, modules, timesyncd, environment ----------------------------------------------------

    private async Task ApplySysctlAsync(CancellationToken cancellationToken)
    {
        Record($"sysctl {string.Join(", ", step.Sysctl.Select(kv => $"{kv.Key}={kv.Value}"))} in {SysctlFile}");
        var values = ReadKeyValues(SysctlFile, '=');
        foreach (var (key, value) in step.Sysctl)
        {
            values[key] = value;
        }

        WriteText(SysctlFile, string.Concat(values.Select(kv => $"{kv.Key} = {kv.Value}\n")), RootFiles.FileDefault);
        var kernel = context.Options.KernelParameterDirectory ?? (context.IsHostRoot ? "/proc/sys" : null);
        if (kernel is null || DryRun)
        {
            return;
        }

        // Written straight to /proc/sys, as sysctl(8) does: minimal images have no procps. One unknown key does
        // not keep the others from the running kernel.
        var unknown = new List<string>();
        foreach (var (key, value) in step.Sysctl)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var parameter = key.Contains('/', StringComparison.Ordinal) ? key.Trim('/') : key.Replace('.', '/');
            var path = Path.Combine(kernel, parameter);
            if (parameter.Split('/').Any(part => part is "" or "." or "..") || !File.Exists(path))
            {
                unknown.Add(key);
                continue;
            }

            Record($"apply {key} = {value} to the running kernel");
            await File.WriteAllTextAsync(path, value, cancellationToken).ConfigureAwait(false);
        }

        if (unknown.Count > 0)
        {
            throw new FileNotFoundException($"the running kernel has no parameter {string.Join(", ", unknown.Select(key => $"'{key}'"))} (nothing under {kernel}); it stays in {SysctlFile} only");
        }
    }

    private async Task LoadModulesAsync(CancellationToken cancellationToken)
    {
        var modules = step.Modules.Select(m => m.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(parts => parts.Length > 0).ToList();
        Record($"modules {string.Join(", ", modules.Select(m => m[0]))} in {ModulesFile}");
        var listed = ReadLines(ModulesFile);
        foreach (var module in modules.Where(m => !listed.Contains(m[0])))
        {
            listed.Add(module[0]);
        }

        WriteText(ModulesFile, string.Concat(listed.Select(m => m + "\n")), RootFiles.FileDefault);
        var withOptions = modules.Where(m => m.Length > 1).ToList();
        if (withOptions.Count > 0)
        {
            var lines = ReadLines(ModprobeFile).Where(line => !withOptions.Any(m => line.StartsWith($"options {m[0]} ", StringComparison.Ordinal))).ToList();
            lines.AddRange(withOptions.Select(m => $"options {m[0]} {string.Join(' ', m.Skip(1))}"));
            WriteText(ModprobeFile, string.Concat(lines.Select(l => l + "\n")), RootFiles.FileDefault);
        }

        if (context.IsHostRoot && !DryRun)
        {
            foreach (var module in modules)
            {
                Record($"modprobe {string.Join(' ', module)}");
                await context.Tools.RunAsync(new ToolInvocation("modprobe", module) { Package = "kmod" }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void WriteTimesyncd()
    {
        Record($"timesyncd {string.Join(", ", step.Timesyncd.Select(kv => $"{kv.Key}={kv.Value}"))} in {TimesyncdFile}");
        var values = ReadKeyValues(TimesyncdFile, '=', skipSections: true);
        foreach (var (key, value) in step.Timesyncd)
        {
            values[key] = value;
        }

        WriteText(TimesyncdFile, "[Time]\n" + string.Concat(values.Select(kv => $"{kv.Key}={kv.Value}\n")), RootFiles.FileDefault);
    }

    private void WriteEnvironment()
    {
        var path = string.IsNullOrEmpty(step.EnvironmentFile) ? "/etc/environment" : step.EnvironmentFile;
        Record($"environment {string.Join(", ", step.Environment.Select(kv => kv.Key))} in {path}");
        var values = ReadKeyValues(path, '=');
        foreach (var (key, value) in step.Environment)
        {
            values[key] = Render(value);
        }

        WriteText(path, string.Concat(values.Select(kv => $"{kv.Key}=\"{EscapeEnvironment(kv.Value)}\"\n")), RootFiles.FileDefault);
    }

    private static string EscapeEnvironment(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal).Replace("$", "\\$", StringComparison.Ordinal);

    private List<string> ReadLines(string path)
    {
        var host = context.Host(path, followLast: true);
        return File.Exists(host) ? File.ReadAllLines(host).Where(l => l.Trim().Length > 0).ToList() : [];
    }

    /// <summary>KEY=VALUE lines of an existing file, in order, quotes removed; comments dropped.</summary>
    private OrderedDictionary<string, string> ReadKeyValues(string path, char separator, bool skipSections = false)
    {
        var values = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in ReadLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || line.StartsWith(';') || (skipSections && line.StartsWith('[')))
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var at = line.IndexOf(separator, StringComparison.Ordinal);
            if (at <= 0)
            {
                continue;
            }

            var value = line[(at + 1)..].Trim();
            if (value.Length >= 2 && ((value[0] == '"' && value[^1] == '"') || (value[0] == '\'' && value[^1] == '\'')))
            {
                value = value[0] == '"'
                    ? value[1..^1].Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\\"", "\"", StringComparison.Ordinal)
                        .Replace("\\$", "$", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal)
                    : value[1..^1];
            }

            values[line[..at].Trim()] = value;
        }

        return values;
    }

    // --- systemctl --------------------------------------------------------------------------------

    private async Task SystemctlAsync(StageSystemctl systemctl, CancellationToken cancellationToken)
    {
        foreach (var (verb, units) in new[] { ("enable", systemctl.Enable), ("disable", systemctl.Disable), ("mask", systemctl.Mask) })
        {
            foreach (var unit in units)
            {
                var arguments = context.IsHostRoot ? new List<string> { verb, unit } : [$"--root={Path.GetFullPath(context.Root)}", verb, unit];
                var invocation = new ToolInvocation("systemctl", arguments) { Package = "systemd" };
                Record(invocation.CommandLine);
                if (!DryRun)
                {
                    await RunCollectingAsync(invocation, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        foreach (var unit in systemctl.Start)
        {
            if (!context.IsHostRoot)
            {
                Record($"not starting {unit}: the root is not the running system");
                continue;
            }

            var invocation = new ToolInvocation("systemctl", ["start", unit]) { Package = "systemd" };
            Record(invocation.CommandLine);
            if (!DryRun)
            {
                await RunCollectingAsync(invocation, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var dropIn in systemctl.Overrides)
        {
            if (dropIn.Content.Length == 0)
            {
                Record($"override for {dropIn.Service} has no content; skipped");
                continue;
            }

            var service = dropIn.Service.Contains('.', StringComparison.Ordinal) ? dropIn.Service : dropIn.Service + ".service";
            var name = string.IsNullOrEmpty(dropIn.Name) ? DefaultOverrideName : dropIn.Name;
            if (!name.EndsWith(".conf", StringComparison.Ordinal))
            {
                name += ".conf";
            }

            if (service.Contains('/', StringComparison.Ordinal) || name.Contains('/', StringComparison.Ordinal))
            {
                throw new StageStepException($"override '{dropIn.Service}'/'{dropIn.Name}': names must not contain '/'");
            }

            var path = $"/etc/systemd/system/{service}.d/{name}";
            Record($"drop-in {path}");
            WriteText(path, dropIn.Content, RootFiles.FileDefault);
        }
    }

    /// <summary>One failing unit does not stop the next: the failure is recorded.</summary>
    private async Task RunCollectingAsync(ToolInvocation invocation, CancellationToken cancellationToken)
    {
        try
        {
            await context.Tools.RunAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (BasaltException error)
        {
            _errors.Add($"systemctl: {error.Message}");
        }
    }
}
