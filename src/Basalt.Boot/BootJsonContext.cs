using System.Text.Json.Serialization;
using Basalt.Boot.Mounting;

namespace Basalt.Boot;

/// <summary>Source-generated JSON for Basalt.Boot documents (trim-safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = 32)]
[JsonSerializable(typeof(MountPlan))]
public sealed partial class BootJsonContext : JsonSerializerContext;
