using System.CommandLine;
using System.Text.Json;
using Basalt.Cli;
using Basalt.Cli.Hosting;
using Basalt.Platform;

namespace Basalt.Cli.Tests;

public sealed class AppFrameworkTests
{
    private sealed class SampleException : BasaltException
    {
        public SampleException()
            : base("the sample went wrong", "do the other thing")
        {
        }

        public override string Kind => "sample";
    }

    private sealed record RecordingServices(GlobalSettings Settings) : ICliServices
    {
        public bool Disposed { get; private set; }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Commands that exercise every outcome the framework maps to an exit code.</summary>
    private sealed class SampleGroup : ICommandGroup
    {
        public IEnumerable<Command> CreateCommands(CommandBinder binder)
        {
            var fail = new Command("fail", "Throws a Basalt error");
            binder.SetHandler(fail, (_, _) => throw new SampleException());

            var boom = new Command("boom", "Throws an unexpected error");
            binder.SetHandler(boom, (_, _) => throw new InvalidOperationException("kaboom"));

            var misuse = new Command("misuse", "Rejects its input after parsing");
            binder.SetHandler(misuse, (_, _) => throw new CliUsageException("--label needs KEY=VALUE"));

            var wait = new Command("wait", "Waits until cancelled");
            binder.SetHandler(wait, async (_, ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return 0;
            });

            var name = new Argument<string>("NAME") { Description = "Who to greet" };
            var greet = new Command("greet", "Prints settings") { name };
            binder.SetHandler(greet, (context, _) =>
            {
                var services = context.Services;
                context.Console.Output.WriteLine(
                    $"hello {context.GetRequiredValue(name)} output={context.Settings.Output} verbose={context.Settings.Verbose} " +
                    $"cache={context.Settings.CacheDir} platform={context.Settings.Platform} insecure={string.Join(',', services.Settings.InsecureRegistries)}");
                return Task.FromResult(0);
            });

            var group = new Command("group", "A command group") { greet };
            return [fail, boom, misuse, wait, group];
        }
    }

    private readonly List<RecordingServices> _created = [];

    private BasaltApp CreateApp() => new([new SampleGroup()], settings =>
    {
        var services = new RecordingServices(settings);
        _created.Add(services);
        return services;
    });

    [Fact]
    public async Task Version_prints_the_informational_version_and_exits_0()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "--version");

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("basalt 0.1.0", run.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Equal(BasaltApp.Version, run.Stdout.Trim()["basalt ".Length..]);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("group", "--help")]
    [InlineData("group", "greet", "--help")]
    public async Task Help_works_on_every_command(params string[] args)
    {
        var run = await CliRunner.RunAsync(CreateApp(), args);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Usage:", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("--output", run.Stdout, StringComparison.Ordinal);
        Assert.Empty(_created);
    }

    [Fact]
    public async Task Global_options_are_accepted_after_subcommands()
    {
        var run = await CliRunner.RunAsync(
            CreateApp(),
            "group", "greet", "world", "--output", "json", "-v", "--cache-dir", "/tmp/c", "--platform", "linux/arm64",
            "--insecure-registry", "a:5000", "--insecure-registry", "b");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("hello world output=Json verbose=True cache=/tmp/c platform=linux/arm64 insecure=a:5000,b", run.Stdout.Trim());
        var services = Assert.Single(_created);
        Assert.True(services.Disposed);
    }

    [Theory]
    [InlineData("nosuchcommand")]
    [InlineData("group", "greet")]
    [InlineData("group", "greet", "a", "b")]
    [InlineData("--output", "yaml", "group", "greet", "x")]
    [InlineData("fail", "--no-such-option")]
    [InlineData]
    public async Task Usage_errors_exit_2_with_a_hint_and_run_nothing(params string[] args)
    {
        var run = await CliRunner.RunAsync(CreateApp(), args);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("error: ", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("hint: run 'basalt", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(run.Stdout);
        Assert.Empty(_created);
    }

    [Fact]
    public async Task Usage_error_hint_names_the_subcommand()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "group", "greet");

        Assert.Contains("hint: run 'basalt group greet --help' for usage", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_errors_are_json_with_output_json()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "group", "greet", "--output", "json");

        Assert.Equal(2, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stderr);
        Assert.Equal("usage", document.RootElement.GetProperty("kind").GetString());
        Assert.False(string.IsNullOrEmpty(document.RootElement.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Usage_exception_from_a_handler_exits_2()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "misuse");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("error: --label needs KEY=VALUE\nhint: run 'basalt misuse --help' for usage\n", run.Stderr);
    }

    [Fact]
    public async Task Basalt_errors_print_message_and_hint_without_stack_trace()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "fail");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error: the sample went wrong\nhint: do the other thing\n", run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Verbose_adds_the_stack_trace()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "fail", "--verbose");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: the sample went wrong\nhint: do the other thing\n", run.Stderr, StringComparison.Ordinal);
        Assert.Contains(" at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Basalt_errors_are_a_json_object_with_output_json()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "-o", "json", "fail");

        Assert.Equal(1, run.ExitCode);
        using var document = JsonDocument.Parse(run.Stderr);
        Assert.Equal("the sample went wrong", document.RootElement.GetProperty("error").GetString());
        Assert.Equal("sample", document.RootElement.GetProperty("kind").GetString());
        Assert.Equal("do the other thing", document.RootElement.GetProperty("hint").GetString());
    }

    [Fact]
    public async Task Unexpected_errors_exit_1_without_stack_trace()
    {
        var run = await CliRunner.RunAsync(CreateApp(), "boom");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: InvalidOperationException: kaboom\nhint: ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_exits_130()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var run = await CliRunner.RunAsync(CreateApp(), cancellation.Token, "wait");

        Assert.Equal(130, run.ExitCode);
        Assert.StartsWith("error: cancelled", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_shipped_composition_root_uses_the_cache_dir_option()
    {
        using var temp = new Basalt.Testing.TempDirectory("cli");
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await BasaltApp.RunAsync(["cache", "ls", "--cache-dir", temp.Path, "-v"], stdout, stderr);

        Assert.Equal(0, code);
        Assert.StartsWith($"cache: {temp.Path}\n", stdout.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("0 images, 0 blobs, 0 B\n", stdout.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_shipped_cli_answers_version_and_help()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        Assert.Equal(0, await BasaltApp.RunAsync(["--version"], stdout, stderr));
        Assert.Equal(0, await BasaltApp.RunAsync(["--help"], stdout, stderr));
        Assert.Empty(stderr.ToString());
    }
}
