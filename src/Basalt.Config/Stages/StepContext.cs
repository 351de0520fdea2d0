using Basalt.Platform;

namespace Basalt.Config.Stages;

/// <summary>What every step of one run shares: options, host access, facts, template values.</summary>
internal sealed class StepContext
{
    private static readonly IReadOnlyList<int> AnyExitCode = Enumerable.Range(0, 256).ToArray();

    public StepContext(StageRunOptions options, IToolRunner tools, HttpClient? http, IFileOwnership ownership, SystemFacts facts)
    {
        Options = options;
        Tools = tools;
        Http = http;
        Ownership = ownership;
        Facts = facts;
        Templates = new TemplateData(options.Values, () => facts.MachineId, facts.TemplateFacts);
    }

    public StageRunOptions Options { get; }
    public IToolRunner Tools { get; }
    public HttpClient? Http { get; }
    public IFileOwnership Ownership { get; }
    public SystemFacts Facts { get; }
    public TemplateData Templates { get; }
    public string Root => Options.Root;
    public bool IsHostRoot => RootPath.IsHostRoot(Options.Root);

    /// <summary>The host path of a path in the target root.</summary>
    public string Host(string path, bool followLast = false) => RootPath.Resolve(Options.Root, path, followLast);

    /// <summary>A shell command as the target sees it: /bin/sh -c, inside chroot ROOT unless the root is "/".</summary>
    public ToolInvocation Shell(string command) => IsHostRoot
        ? new ToolInvocation("/bin/sh", ["-c", command])
        : ToolInvocation.InRoot(Path.GetFullPath(Options.Root), ["/bin/sh", "-c", command]);

    public Task<ToolResult> RunShellAsync(string command, bool acceptAnyExit, CancellationToken cancellationToken)
    {
        var invocation = Shell(command);
        if (acceptAnyExit)
        {
            invocation = invocation with { SuccessExitCodes = AnyExitCode };
        }

        return Tools.RunAsync(invocation, cancellationToken);
    }
}
