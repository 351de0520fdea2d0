namespace Basalt.Testing;

/// <summary>
/// Test tiers, used as <c>[Trait(Tiers.Key, Tiers.Integration)]</c>. Unit tests carry no trait.
/// <c>scripts/test --tier</c> filters on them.
/// </summary>
public static class Tiers
{
    public const string Key = "Tier";
    public const string Integration = "integration";
    public const string EndToEnd = "e2e";
}
