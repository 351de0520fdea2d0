using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Cli.Hosting;
using Basalt.Config;
using Basalt.Config.Collection;
using Basalt.Config.Yaml;

namespace Basalt.Cli.Commands;

/// <summary>`basalt config show|get|validate|schema`: the node's cloud-config as Basalt reads it.</summary>
internal sealed class ConfigCommands : ICommandGroup
{
    private const string ProcCmdline = "/proc/cmdline";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return new Command("config", "Collect, merge, query and validate cloud-config")
        {
            Show(binder),
            Get(binder),
            Validate(binder),
            Schema(binder),
        };
    }

    private sealed record SourceOptions(Option<string> Root, Option<string> Cmdline, Option<string[]> Files, Option<bool> Strict);

    private static SourceOptions AddSourceOptions(Command command)
    {
        var options = new SourceOptions(
            new Option<string>("--root") { Description = "Root directory the scan directories are read from (default: /)" },
            new Option<string>("--cmdline") { Description = $"Kernel command line to merge last (default: {ProcCmdline} when --root is /)" },
            new Option<string[]>("--file") { Description = "Extra config files merged after the scanned ones", AllowMultipleArgumentsPerToken = true },
            new Option<bool>("--strict") { Description = "Treat warnings as errors: a file with any finding is not applied" });
        command.Options.Add(options.Root);
        command.Options.Add(options.Cmdline);
        command.Options.Add(options.Files);
        command.Options.Add(options.Strict);
        return options;
    }

    private static async Task<MergedConfig> CollectAsync(CommandContext context, SourceOptions options, CancellationToken cancellationToken)
    {
        var root = context.GetValue(options.Root) ?? "/";
        if (!Directory.Exists(root))
        {
            throw new CliUsageException($"--root {root}: no such directory");
        }

        var inputs = new List<ConfigInput>();
        foreach (var file in context.GetValue(options.Files) ?? [])
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliUsageException($"--file {file}: {e.Message}");
            }

            inputs.Add(new ConfigInput(text, file));
        }

        var cmdline = context.GetValue(options.Cmdline);
        if (cmdline is null && Path.GetFullPath(root) == "/" && File.Exists(ProcCmdline))
        {
            cmdline = await File.ReadAllTextAsync(ProcCmdline, cancellationToken).ConfigureAwait(false);
        }

        var collectorOptions = new ConfigCollectorOptions
        {
            Root = root,
            Inputs = inputs,
            KernelCommandLine = cmdline,
            Strict = context.GetValue(options.Strict),
        };
        var merged = await new ConfigCollector().CollectAsync(collectorOptions, cancellationToken).ConfigureAwait(false);
        if (!context.Console.IsJson)
        {
            foreach (var issue in merged.Issues)
            {
                context.Console.Error.WriteLine(issue.ToString());
            }
        }

        return merged;
    }

    private static Command Show(CommandBinder binder)
    {
        var command = new Command("show", "Print the merged cloud-config with the list of its sources");
        var options = AddSourceOptions(command);
        binder.SetHandler(command, async (context, ct) =>
        {
            var merged = await CollectAsync(context, options, ct).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                var output = new JsonObject
                {
                    ["sources"] = new JsonArray([.. merged.Sources.Select(s => (JsonNode)JsonValue.Create(s))]),
                    ["skipped"] = new JsonArray([.. merged.Skipped.Select(s => (JsonNode)new JsonObject { ["source"] = s.Source, ["reason"] = s.Reason })]),
                    ["issues"] = IssuesJson(merged.Issues),
                    ["config"] = merged.Root.DeepClone(),
                };
                context.Console.Output.WriteLine(output.ToJsonString(Indented));
                return ExitCodes.Success;
            }

            var text = new System.Text.StringBuilder("#cloud-config\n");
            if (merged.Sources.Count > 0)
            {
                text.Append("# Sources:\n");
                foreach (var source in merged.Sources)
                {
                    text.Append("# - ").Append(source).Append('\n');
                }
            }

            text.Append('\n');
            if (merged.Root.Count > 0)
            {
                text.Append(YamlWriter.Write(merged.Root));
            }

            context.Console.Output.Write(text.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Get(CommandBinder binder)
    {
        var key = new Argument<string>("key") { Description = "Dot-notation key: install.device, users[0].name, stages.boot" };
        var command = new Command("get", "Print one value of the merged cloud-config (exit 1 when it is not set)") { key };
        var options = AddSourceOptions(command);
        binder.SetHandler(command, async (context, ct) =>
        {
            var text = context.GetValue(key)!;
            if (!KeyPath.TryParse(text, out var path, out var error))
            {
                throw new CliUsageException($"bad key: {error}", "Write keys as install.device or users[0].name.");
            }

            var merged = await CollectAsync(context, options, ct).ConfigureAwait(false);
            if (!path.Exists(merged.Root))
            {
                context.Console.Error.WriteLine($"error: {path} is not set");
                return ExitCodes.Failure;
            }

            var value = path.Find(merged.Root);
            if (context.Console.IsJson)
            {
                context.Console.Output.WriteLine(value?.ToJsonString(Indented) ?? "null");
            }
            else if (value is JsonValue scalar && scalar.GetValueKind() == JsonValueKind.String)
            {
                context.Console.Output.WriteLine(scalar.GetValue<string>());
            }
            else if (value is JsonObject or JsonArray)
            {
                context.Console.Output.Write(YamlWriter.Write(value));
            }
            else
            {
                context.Console.Output.WriteLine(value?.ToJsonString() ?? "null");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Validate(CommandBinder binder)
    {
        var source = new Argument<string>("source") { Description = "A cloud-config file, or an http(s) URL" };
        var strict = new Option<bool>("--strict") { Description = "Treat warnings (unknown keys, missing header) as errors" };
        var command = new Command("validate", "Check a cloud-config file or URL: syntax, types and unknown keys, with file:line:column") { source, strict };
        binder.SetHandler(command, async (context, ct) =>
        {
            var target = context.GetValue(source)!;
            var isStrict = context.GetValue(strict);
            var issues = new List<ConfigIssue>();
            await new ConfigCollector().ValidateSourceAsync(target, new ConfigCollectorOptions(), issues, ct).ConfigureAwait(false);
            var failed = issues.Any(i => i.Severity == ConfigIssueSeverity.Error || isStrict);
            if (context.Console.IsJson)
            {
                var output = new JsonObject { ["source"] = target, ["valid"] = !failed, ["strict"] = isStrict, ["issues"] = IssuesJson(issues) };
                context.Console.Output.WriteLine(output.ToJsonString(Indented));
            }
            else
            {
                foreach (var issue in issues)
                {
                    context.Console.Output.WriteLine(issue.ToString());
                }

                var errors = issues.Count(i => i.Severity == ConfigIssueSeverity.Error);
                var warnings = issues.Count - errors;
                context.Console.Output.WriteLine(failed
                    ? $"{target}: invalid ({errors} errors, {warnings} warnings{(isStrict && warnings > 0 ? ", warnings count as errors with --strict" : string.Empty)})"
                    : $"{target}: valid{(warnings > 0 ? $" ({warnings} warnings)" : string.Empty)}");
            }

            return failed ? ExitCodes.Failure : ExitCodes.Success;
        });
        return command;
    }

    private static Command Schema(CommandBinder binder)
    {
        var command = new Command("schema", "Print the JSON schema of the cloud-config");
        binder.SetHandler(command, (context, _) =>
        {
            context.Console.Output.WriteLine(ConfigSchema.Generate().ToJsonString(Indented));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static JsonArray IssuesJson(IEnumerable<ConfigIssue> issues) =>
        new([.. issues.Select(i => (JsonNode)new JsonObject
        {
            ["severity"] = i.Severity == ConfigIssueSeverity.Error ? "error" : "warning",
            ["source"] = i.Position.Source,
            ["line"] = i.Position.Line,
            ["column"] = i.Position.Column,
            ["path"] = i.Path,
            ["message"] = i.Message,
        })]);
}
