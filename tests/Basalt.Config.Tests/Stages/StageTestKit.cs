using System.Text.Json.Nodes;
using Basalt.Config.Stages;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Config.Tests.Stages;

/// <summary>Records tool calls; shell commands answer with the exit code <see cref="ShellExit"/> gives.</summary>
internal sealed class FakeTools : IToolRunner
{
    public List<ToolInvocation> Calls { get; } = [];

    public Func<string, int> ShellExit { get; init; } = _ => 0;

    public Func<ToolInvocation, ToolResult?>? Respond { get; init; }

    public IEnumerable<string> CommandLines => Calls.Select(c => c.CommandLine);

    public string? Locate(string tool) => "/usr/bin/" + tool;

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        Calls.Add(invocation);
        if (Respond?.Invoke(invocation) is { } answer)
        {
            return Task.FromResult(answer);
        }

        var args = invocation.Arguments;
        var exit = args.Count >= 2 && args[^2] == "-c" ? ShellExit(args[^1]) : 0;
        if (!invocation.SuccessExitCodes.Contains(exit))
        {
            throw new ToolFailedException(invocation.CommandLine, exit, "failed on purpose");
        }

        return Task.FromResult(new ToolResult(exit, string.Empty, exit == 0 ? string.Empty : "failed on purpose", TimeSpan.Zero));
    }
}

/// <summary>Remembers who would own what, so ownership is checked without root.</summary>
internal sealed class RecordingOwnership : IFileOwnership
{
    private readonly Dictionary<string, (int, int)> _owners = new(StringComparer.Ordinal);

    public void ChangeOwner(string path, int userId, int groupId)
    {
        // The temporary sibling is renamed over the target: remember it under the target's name.
        var name = Path.GetFileName(path);
        var target = name.StartsWith('.') && name.Contains(".tmp-", StringComparison.Ordinal)
            ? Path.Combine(Path.GetDirectoryName(path)!, name[1..name.IndexOf(".tmp-", StringComparison.Ordinal)])
            : path;
        _owners[target] = (userId, groupId);
    }

    public (int Uid, int Gid)? OwnerOf(string path) => _owners.TryGetValue(path, out var owner) ? owner : null;
}

/// <summary>A temp root with a minimal /etc, a runner with fakes, and helpers to run stages from JSON text.</summary>
internal sealed class StageHarness : IDisposable
{
    private readonly TempDirectory _root = new("stages");

    public StageHarness(FakeTools? tools = null, HttpClient? http = null)
    {
        Tools = tools ?? new FakeTools();
        Runner = new StageRunner(Tools, http, Ownership);
        Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n");
        Write("/etc/shadow", "root:*:19000:0:99999:7:::\n");
        File.SetUnixFileMode(Host("/etc/shadow"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Write("/etc/group", "root:x:0:\nusers:x:100:\nwheel:x:10:\nsudo:x:27:\n");
        Write("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n");
        Write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
        Write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    }

    public FakeTools Tools { get; }
    public RecordingOwnership Ownership { get; } = new();
    public StageRunner Runner { get; }
    public string Root => _root.Path;

    public string Host(string path) => Root + path;

    public void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Host(path))!);
        File.WriteAllText(Host(path), content);
    }

    public string Read(string path) => File.ReadAllText(Host(path));

    public UnixFileMode Mode(string path) => File.GetUnixFileMode(Host(path));

    public (int Uid, int Gid)? Owner(string path) => Ownership.OwnerOf(Host(path));

    public StageRunOptions Options(bool dryRun = false) => new() { Root = Root, DryRun = dryRun, Architecture = "amd64" };

    public Task<StageRunResult> RunStagesAsync(string stage, string stagesJson, StageRunOptions? options = null) =>
        Runner.RunAsync(stage, [StageSource.FromStages("test.yaml", JsonNode.Parse(stagesJson))], options ?? Options());

    public Task<StageRunResult> RunConfigAsync(string stage, string configJson, StageRunOptions? options = null) =>
        Runner.RunAsync(stage, [new StageSource("test.yaml", JsonNode.Parse(configJson)!.AsObject())], options ?? Options());

    public void Dispose() => _root.Dispose();
}
