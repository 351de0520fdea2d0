using System.CommandLine;
using System.Text;
using System.Text.Json;
using Basalt.Cli.Hosting;
using Basalt.Config.Collection;
using Basalt.Config.Stages;
using Basalt.Config.Yaml;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt run-stage STAGE`: runs (or, with --dry-run, prints) a cloud-config stage against a root,
/// the way the boot units and the install/upgrade/reset lifecycle run them.
/// </summary>
internal sealed class StageCommands : ICommandGroup
{
    private const string ProcCmdline = "/proc/cmdline";

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        var stage = new Argument<string>("STAGE")
        {
            Description = "rootfs, initramfs, fs, boot, network, reconcile (each runs its .before and .after too), " +
                          "a .before/.after on its own, or a lifecycle stage such as after-install",
        };
        var root = new Option<string>("--root") { Description = "The root directory every step acts on (default: /)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what each step would do; change nothing" };
        var configs = new Option<string[]>("--config", "-c")
        {
            Description = "A cloud-config file whose stages run; repeat for more, they run in the order given " +
                          "(default: the files collected from the scan directories under --root)",
            AllowMultipleArgumentsPerToken = true,
        };
        var cmdline = new Option<string>("--cmdline")
        {
            Description = $"Kernel command line merged last into the collected config (default: {ProcCmdline} when --root is /; none with --config)",
        };
        var command = new Command("run-stage", "Run the steps of a cloud-config stage against a root") { stage, root, dryRun, configs, cmdline };
        binder.SetHandler(command, async (context, ct) =>
        {
            var files = context.GetValue(configs) ?? [];
            var options = new StageRunOptions { Root = context.GetValue(root) ?? "/", DryRun = context.GetValue(dryRun) };
            using var http = new HttpClient();
            StageRunResult result;
            if (files.Length > 0)
            {
                var sources = files.Select(file => new StageSource(file, YamlDocumentLoader.LoadFile(file).Root)).ToList();
                result = await new StageRunner(new ToolRunner(), http).RunAsync(context.GetRequiredValue(stage), sources, options, ct).ConfigureAwait(false);
            }
            else
            {
                // What a node runs: the config collected from the scan directories under the root and the command line.
                var collect = new ConfigCollectorOptions { Root = options.Root, KernelCommandLine = ReadCmdline(context.GetValue(cmdline), options.Root) };
                var run = await new ConfigStages(new ToolRunner(), http).RunAsync(context.GetRequiredValue(stage), collect, options, ct).ConfigureAwait(false);
                foreach (var issue in run.Config.Issues)
                {
                    context.Console.Error.WriteLine(issue.ToString());
                }

                result = run.Run;
            }

            if (context.Console.IsJson)
            {
                context.Console.Output.WriteLine(ToJson(result));
            }
            else
            {
                WriteText(context.Console, result, options);
            }

            return result.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
        });
        yield return command;
    }

    private static string? ReadCmdline(string? given, string root)
    {
        if (given is not null)
        {
            return given;
        }

        return Path.GetFullPath(root) == "/" && File.Exists(ProcCmdline) ? File.ReadAllText(ProcCmdline).Trim() : null;
    }

    private static void WriteText(CliConsole console, StageRunResult result, StageRunOptions options)
    {
        var output = console.Output;
        foreach (var warning in result.Warnings)
        {
            console.Error.WriteLine($"warning: {warning}");
        }

        foreach (var error in result.SourceErrors)
        {
            console.Error.WriteLine($"error: {error}");
        }

        foreach (var step in result.Steps)
        {
            var status = step.Status.ToString().ToLowerInvariant();
            output.WriteLine($"{status,-8} {step.Stage}  {step.Source}  {step.Step}" + (step.SkipReason is { } why ? $"  ({why})" : string.Empty));
            foreach (var action in step.Actions)
            {
                output.WriteLine($"           {action}");
            }

            foreach (var error in step.Errors)
            {
                output.WriteLine($"  error:   {error}");
            }
        }

        var failed = result.Failed.Count();
        var verb = options.DryRun ? "planned" : "ran";
        output.WriteLine(result.Steps.Count == 0
            ? $"stage {result.Stage}: no steps"
            : $"stage {result.Stage}: {verb} {result.Steps.Count} step(s), {failed} failed" + (result.SourceErrors.Count > 0 ? $", {result.SourceErrors.Count} source(s) unreadable" : string.Empty));
    }

    /// <summary>Written by hand with Utf8JsonWriter: trim-safe, and the CLI's JSON context is not touched.</summary>
    private static string ToJson(StageRunResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("stage", result.Stage);
            json.WriteBoolean("succeeded", result.Succeeded);
            WriteStrings(json, "sourceErrors", result.SourceErrors);
            WriteStrings(json, "warnings", result.Warnings);
            json.WriteStartArray("steps");
            foreach (var step in result.Steps)
            {
                json.WriteStartObject();
                json.WriteString("stage", step.Stage);
                json.WriteString("source", step.Source);
                json.WriteString("step", step.Step);
                json.WriteString("status", step.Status.ToString().ToLowerInvariant());
                if (step.SkipReason is { } why)
                {
                    json.WriteString("skipReason", why);
                }

                WriteStrings(json, "actions", step.Actions);
                WriteStrings(json, "errors", step.Errors);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
