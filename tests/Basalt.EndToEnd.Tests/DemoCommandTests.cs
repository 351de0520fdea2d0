using System.Diagnostics;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// The README's main command, as a user runs it: the published basalt's <c>demo --quick</c> on the fixture's OS tree
/// pushes v1 and v2 to a registry it starts, builds a disk, boots it, upgrades the node from the registry, reboots
/// into v2 and powers off; its exit status and its summary say every step worked, and it leaves nothing running.
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class DemoCommandTests : IDisposable
{
    /// <summary>Two boots, a push of the whole tree, a disk build and a guest-side upgrade under TCG on a loaded machine.</summary>
    private static readonly TimeSpan DemoTimeout = TimeSpan.FromMinutes(75);

    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-demo");

    public DemoCommandTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        Requires.Tool("docker-registry", "docker-registry");
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Demo_quick_boots_v1_upgrades_to_v2_from_its_registry_reboots_into_v2_and_exits_0()
    {
        var work = _temp.Combine("work");
        var (exit, stdout, stderr) = await RunAsync(
            _os.BasaltBinary,
            ["demo", "--quick", "--os-tree", _os.RootDirectory, "--root-password", BasaltOsFixture.RootPassword, "--work-dir", work, "--cache-dir", _temp.Combine("cache")]);
        _output.WriteLine("--- stdout ---\n" + stdout);
        _output.WriteLine("--- stderr ---\n" + stderr);

        Assert.True(exit == 0, $"basalt demo --quick exited {exit}:\n{stdout}\n{stderr}");
        Assert.Matches(@"basalt demo: OK in ", stdout);
        foreach (var phase in new[]
                 {
                     "start a local registry", "push image v1", "push image v2", "build a disk from v1", "boot the disk in QEMU",
                     "basalt upgrade to v2 from the registry", "reboot into v2", "power off",
                 })
        {
            Assert.Matches($@"(?m)^  OK +\S+  {System.Text.RegularExpressions.Regex.Escape(phase)}", stdout);
        }

        Assert.Matches(@"(?m)^  skipped +build or reuse the default Debian base", stdout);
        Assert.Matches(@"(?m)^  skipped +basalt init the OS tree", stdout);
        Assert.Contains("basalt state on the node (v1):", stdout, StringComparison.Ordinal);
        Assert.Contains("basalt state on the node (v2):", stdout, StringComparison.Ordinal);

        // Only v2's layer and config crossed the wire: far less than 1 % of the image.
        // A share too small to print reads "< 0.001 %"; either form must stay under 1 %.
        var fetched = System.Text.RegularExpressions.Regex.Match(stdout, @"upgrade fetched .* \((?:< )?(?<percent>[0-9.]+) %\)");
        Assert.True(fetched.Success, $"the summary names what the upgrade fetched:\n{stdout}");
        Assert.True(double.Parse(fetched.Groups["percent"].Value, System.Globalization.CultureInfo.InvariantCulture) < 1.0, fetched.Value);

        // Everything it started is gone: the work directory, and no registry or QEMU still running from it.
        Assert.False(Directory.Exists(work), $"the demo left its work directory {work}");
        Assert.DoesNotContain(Processes(), line => line.Contains(work, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Demo_quick_without_an_os_tree_is_a_usage_error_that_starts_nothing()
    {
        var work = _temp.Combine("no-tree");
        var (exit, _, stderr) = await RunAsync(_os.BasaltBinary, ["demo", "--quick", "--work-dir", work]);
        Assert.Equal(1, exit);
        Assert.Contains("--quick needs --os-tree", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work));
    }

    private static IEnumerable<string> Processes() =>
        Directory.EnumerateDirectories("/proc")
            .Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Select(d =>
            {
                try
                {
                    return File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
                }
                catch (IOException)
                {
                    return string.Empty;
                }
                catch (UnauthorizedAccessException)
                {
                    return string.Empty;
                }
            });

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string binary, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(DemoTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM first: the demo stops its registry and VM on the way out.
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
            }

            throw new TimeoutException($"basalt demo did not finish within {DemoTimeout.TotalMinutes:0} min:\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
