using System.Text.Json;
using Basalt.Build.Demo;
using Basalt.Cli.Commands;
using Basalt.Cli.Demo;
using Basalt.Cli.Hosting;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

/// <summary>`basalt demo`: its help, its refusals before anything starts, and the summary it closes with.</summary>
public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cli-demo");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Help_says_what_quick_skips_and_what_it_still_does()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "demo", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("--quick", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("skips installing packages", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("reboots into v2", run.Stdout, StringComparison.Ordinal);
        foreach (var option in new[] { "--work-dir", "--os-tree", "--yes", "--root-password", "--registry-port", "--dry-run" })
        {
            Assert.Contains(option, run.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Quick_without_an_os_tree_fails_before_anything_is_made()
    {
        var work = _temp.Combine("work");
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "demo", "--quick", "--work-dir", work, "--output", "json");

        Assert.Equal(1, run.ExitCode);
        using var error = JsonDocument.Parse(run.Stderr);
        Assert.Equal("invalid-option", error.RootElement.GetProperty("kind").GetString());
        Assert.False(Directory.Exists(work));
    }

    [Fact]
    public async Task An_os_tree_that_is_not_one_is_named_in_the_error()
    {
        var tree = _temp.Combine("not-a-tree");
        Directory.CreateDirectory(tree);
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "demo", "--os-tree", tree, "--work-dir", _temp.Combine("work"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"'{tree}' is not a Basalt OS tree", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_disk_size_is_a_usage_error()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "demo", "--disk", "lots", "--work-dir", _temp.Combine("work"));
        Assert.Equal(2, run.ExitCode);
    }

    [Fact]
    public void The_summary_lists_every_phase_with_its_status_and_what_the_upgrade_fetched()
    {
        var report = new DemoReport(
            [
                new DemoPhaseResult(DemoStep.Packages, "check the host's packages", DemoPhaseStatus.Ok, TimeSpan.FromSeconds(0.2), null),
                new DemoPhaseResult(DemoStep.Base, "build or reuse the default Debian base (debootstrap)", DemoPhaseStatus.Skipped, TimeSpan.Zero, "--os-tree given"),
                new DemoPhaseResult(DemoStep.Upgrade, "basalt upgrade to v2 from the registry, in the guest", DemoPhaseStatus.Ok, TimeSpan.FromSeconds(95), null),
            ],
            TimeSpan.FromMinutes(9),
            UpgradeBytesFetched: 2048,
            ImageBytes: 400L << 20,
            Error: null,
            Hint: null,
            Cancelled: false);

        using var stdout = new StringWriter();
        DemoCommands.Summarize(new CliConsole(stdout, TextWriter.Null, OutputFormat.Text, false, CliEnvironment.Redirected), report);
        var text = stdout.ToString();

        Assert.True(report.Succeeded);
        Assert.Matches(@"(?m)^  OK +\S+  check the host's packages$", text);
        Assert.Matches(@"(?m)^  skipped +build or reuse the default Debian base", text);
        Assert.Matches(@"(?m)^upgrade fetched 2(\.0)? KiB of the 400(\.0)? MiB image v2 \(< 0\.001 %\)", text);
        Assert.Contains("basalt demo: OK in ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_phase_makes_the_summary_say_failed_with_the_error_and_hint()
    {
        var report = new DemoReport(
            [
                new DemoPhaseResult(DemoStep.Registry, "start a local registry on 127.0.0.1", DemoPhaseStatus.Failed, TimeSpan.FromSeconds(1), "port busy"),
                new DemoPhaseResult(DemoStep.PushV1, "push image v1: the OS tree as one layer", DemoPhaseStatus.NotRun, TimeSpan.Zero, null),
            ],
            TimeSpan.FromSeconds(3),
            null,
            null,
            "port busy",
            "pick another port",
            false);

        using var stdout = new StringWriter();
        DemoCommands.Summarize(new CliConsole(stdout, TextWriter.Null, OutputFormat.Text, false, CliEnvironment.Redirected), report);
        var text = stdout.ToString();

        Assert.False(report.Succeeded);
        Assert.Matches(@"(?m)^  FAILED +\S+  start a local registry", text);
        Assert.Matches(@"(?m)^  not run +push image v1", text);
        Assert.Contains("basalt demo: FAILED after", text, StringComparison.Ordinal);
        Assert.Contains("hint: pick another port", text, StringComparison.Ordinal);
        Assert.DoesNotContain("upgrade fetched", text, StringComparison.Ordinal);
    }
}
