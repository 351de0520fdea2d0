using System.Text.Json.Serialization;
using Basalt.Agent.History;
using Basalt.Agent.Slots;

namespace Basalt.Agent;

/// <summary>Source-generated JSON for the agent's documents (trim-safe): the slots file and other indented documents.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = 32)]
[JsonSerializable(typeof(SlotsDocument))]
public sealed partial class AgentJsonContext : JsonSerializerContext;

/// <summary>One history record per line: the same naming as <see cref="AgentJsonContext"/>, never indented.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = 8)]
[JsonSerializable(typeof(LifecycleRecord))]
internal sealed partial class HistoryLineJsonContext : JsonSerializerContext;
