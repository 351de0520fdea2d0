using Basalt.Boot.Mounting;
using Basalt.Config;
using Basalt.Platform;

namespace Basalt.Boot.Tests;

/// <summary>Answers like the real tools would on a Basalt disk and records every command line.</summary>
internal sealed class RecordingToolRunner : IToolRunner
{
    public Dictionary<string, string> Devices { get; } = new(StringComparer.Ordinal);
    public List<string> Calls { get; } = [];
    public HashSet<string> Failing { get; } = new(StringComparer.Ordinal);
    public int NextLoop { get; set; }

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        Calls.Add(invocation.CommandLine);
        if (Failing.Any(f => invocation.CommandLine.StartsWith(f, StringComparison.Ordinal)))
        {
            throw new ToolFailedException(invocation.CommandLine, 32, "mount: wrong fs type, bad option, bad superblock");
        }

        var output = string.Empty;
        var exit = 0;
        switch (invocation.Tool)
        {
            case "blkid":
                var spec = invocation.Arguments[^1];
                if (Devices.TryGetValue(spec, out var device))
                {
                    output = device + "\n";
                }
                else
                {
                    exit = 2;
                }

                break;
            case "losetup":
                output = $"/dev/loop{NextLoop++}\n";
                break;
        }

        if (!invocation.SuccessExitCodes.Contains(exit))
        {
            throw new ToolFailedException(invocation.CommandLine, exit, string.Empty);
        }

        return Task.FromResult(new ToolResult(exit, output, string.Empty, TimeSpan.Zero));
    }

    public string? Locate(string tool) => "/usr/bin/" + tool;
}

/// <param name="mountLog">Where bind mounts are recorded as <c>mount --bind SOURCE TARGET</c>: the tool runner's calls, so the
/// order of every mount of a boot can be checked in one list.</param>
internal sealed class MemoryBootFiles(List<string> mountLog) : IBootFiles
{
    public HashSet<string> Directories { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);
    public List<string> Operations { get; } = [];

    public bool Exists(string path) => Directories.Contains(path) || Files.ContainsKey(path);

    public bool DirectoryExists(string path) => Directories.Contains(path);

    public void CreateDirectory(string path)
    {
        Operations.Add($"mkdir {path}");
        Directories.Add(path);
    }

    public void DeleteDirectory(string path)
    {
        Operations.Add($"rm -r {path}");
        Directories.Remove(path);
    }

    public void MoveDirectory(string source, string destination)
    {
        Operations.Add($"mv {source} {destination}");
        Directories.Remove(source);
        Directories.Add(destination);
    }

    public void WriteAllText(string path, string content)
    {
        Operations.Add($"write {path}");
        Files[path] = content;
    }

    public void BindMount(string source, string target) => mountLog.Add($"mount --bind {source} {target}");
}

internal sealed class RecordingConsole : IBootConsole
{
    public List<string> Lines { get; } = [];

    public void Info(string message) => Lines.Add("info: " + message);

    public void Warn(string message) => Lines.Add("warn: " + message);

    public void Error(string message) => Lines.Add("error: " + message);
}

internal sealed class RecordingStages : IStageRunner
{
    public List<string> Runs { get; } = [];

    public List<string> CommandLines { get; } = [];

    public Task RunAsync(string stage, string root, string commandLine, CancellationToken cancellationToken = default)
    {
        CommandLines.Add(commandLine);
        Runs.Add($"{stage}@{root}");
        return Task.CompletedTask;
    }
}

/// <summary>Hands out fixed layout settings and records where and with which command line it was asked.</summary>
internal sealed class FixedConfigReader(ConfigLayoutSettings settings) : IBootConfigReader
{
    public List<(string Root, string CommandLine)> Reads { get; } = [];

    public Task<ConfigLayoutSettings> ReadLayoutAsync(string root, string commandLine, CancellationToken cancellationToken = default)
    {
        Reads.Add((root, commandLine));
        return Task.FromResult(settings);
    }
}

internal sealed class RecordingFailureHandler : IBootFailureHandler
{
    public List<(FailureAction Action, string Reason)> Handled { get; } = [];

    public Task HandleAsync(FailureAction action, string reason, CancellationToken cancellationToken = default)
    {
        Handled.Add((action, reason));
        return Task.CompletedTask;
    }
}
