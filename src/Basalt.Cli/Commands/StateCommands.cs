using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Basalt.Agent;
using Basalt.Agent.Assessment;
using Basalt.Agent.Node;
using Basalt.Agent.State;
using Basalt.Cli.Hosting;

namespace Basalt.Cli.Commands;

/// <summary>
/// `basalt state`: what the node runs, what each slot holds, boot counting, the last fallback, partitions and
/// history. Also home of the running-node form of `basalt bootentry` (the offline `--disk` form is in
/// <see cref="DiskCommands"/>) and of the options the node commands share.
/// </summary>
internal sealed class StateCommands : ICommandGroup
{
    /// <summary>The agent's documents with the CLI's output conventions (camelCase, indented, text written as is).</summary>
    private static readonly AgentJsonContext Json = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    });

    public IEnumerable<Command> CreateCommands(CommandBinder binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        yield return State(binder);
    }

    /// <summary>
    /// Hidden: read and write the node's files under DIR instead of the running node's mounts (tests, and a
    /// node's partitions gathered under one directory). Every path of <see cref="NodePaths"/> moves under it.
    /// </summary>
    internal static Option<string?> NodeRootOption() =>
        new("--node-root") { Description = "Treat DIR as the node's root (its mounts, /run/cos and /proc files below it)", HelpName = "DIR", Hidden = true };

    internal static NodePaths Paths(CommandContext context, Option<string?> nodeRoot) =>
        context.GetValue(nodeRoot) is { Length: > 0 } root ? NodePaths.Under(root) : NodePaths.Running;

    private static Command State(CommandBinder binder)
    {
        var nodeRoot = NodeRootOption();
        var command = new Command("state", "Show the node: boot mode and slot, each slot's image, boot counting, the last fallback, partitions, history") { nodeRoot };
        binder.SetHandler(command, async (context, ct) =>
        {
            var state = await new NodeStateReader(Paths(context, nodeRoot)).ReadAsync(ct).ConfigureAwait(false);
            if (context.Console.IsJson)
            {
                context.Console.WriteJson(state, Json.NodeState);
            }
            else
            {
                context.Console.Output.Write(NodeStateText.Render(state));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>`basalt bootentry [--select ENTRY]` without `--disk`: the running node's grubenv.</summary>
    internal static int RunningBootEntry(CommandContext context, NodePaths paths, string? select)
    {
        ArgumentNullException.ThrowIfNull(context);
        var entries = new NodeBootEntries(paths);
        var listing = select is null ? entries.List() : entries.SelectNext(select);
        if (context.Console.IsJson)
        {
            context.Console.WriteJson(listing, Json.BootEntryListing);
            return ExitCodes.Success;
        }

        if (select is not null)
        {
            context.Console.WriteText($"the next boot uses '{listing.NextEntry}' once ({listing.GrubEnvironment})");
            return ExitCodes.Success;
        }

        foreach (var entry in listing.Entries)
        {
            var marks = new List<string>();
            if (entry == listing.DefaultEntry)
            {
                marks.Add("default");
            }

            if (entry == listing.NextEntry)
            {
                marks.Add("next boot, once");
            }

            if (entry == listing.NextBootEntry)
            {
                marks.Add("booted next");
            }

            context.Console.WriteText(marks.Count == 0 ? $"  {entry}" : $"  {entry,-11} ({string.Join(", ", marks)})");
        }

        return ExitCodes.Success;
    }

    /// <summary>Text lines of a mark-good: what was recorded and what hooks see.</summary>
    internal static IEnumerable<string> Describe(GoodBootResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        yield return $"boot marked good in {result.GrubEnvironmentPath}" + (result.Plan.RunningSlot is { } slot ? $" (running {slot})" : string.Empty);
        foreach (var record in result.Plan.Records)
        {
            yield return record.Detail is null ? $"recorded: {record.Operation}" : $"recorded: {record.Operation} — {record.Detail}";
        }

        if (result.Plan.UpgradeFailure is not null)
        {
            yield return "the upgrade did not hold: upgrade_failure written for hooks";
        }

        foreach (var counter in result.Plan.KeptCounters)
        {
            yield return $"kept {counter}: that slot stays skipped until an upgrade, rollback or reset";
        }

        foreach (var (counter, tries) in result.Plan.RearmedCounters)
        {
            yield return $"{counter} set to {tries}: if this slot stops booting, the node goes on to recovery";
        }
    }

    internal static void WriteMarkGood(CommandContext context, GoodBootResult result)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(result);
        foreach (var warning in result.Warnings)
        {
            context.Console.Error.WriteLine($"warning: {warning}");
        }

        if (context.Console.IsJson)
        {
            context.Console.WriteJson(result, Json.GoodBootResult);
            return;
        }

        foreach (var line in Describe(result))
        {
            context.Console.WriteText(line);
        }
    }
}
