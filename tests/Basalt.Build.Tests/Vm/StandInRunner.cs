using Basalt.Platform;

namespace Basalt.Build.Tests.Vm;

/// <summary>Runs every tool for real but one, which is a script of the test's.</summary>
internal sealed class StandInRunner(IToolRunner inner, string tool, string standIn) : IToolRunner
{
    public string? Locate(string name) => name == tool ? standIn : inner.Locate(name);

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default) => inner.RunAsync(invocation, cancellationToken);
}
