using Basalt.Platform;

namespace Basalt.Disk.Tests;

/// <summary>Records calls instead of running them; tools in <see cref="Missing"/> are not found.</summary>
internal sealed class FakeToolRunner : IToolRunner
{
    public HashSet<string> Missing { get; } = new(StringComparer.Ordinal);

    public List<ToolInvocation> Calls { get; } = [];

    public Func<ToolInvocation, ToolResult>? Respond { get; init; }

    public string? Locate(string tool) => Missing.Contains(tool) ? null : "/usr/bin/" + tool;

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        if (Missing.Contains(invocation.Tool))
        {
            throw new ToolNotFoundException(invocation.Tool, invocation.Package);
        }

        Calls.Add(invocation);
        return Task.FromResult(Respond?.Invoke(invocation) ?? new ToolResult(0, string.Empty, string.Empty, TimeSpan.Zero));
    }
}
