using System.Globalization;

namespace Basalt.Boot.Grub;

/// <summary>
/// Boot counting kept in grubenv. After an upgrade the agent arms both slots with N tries
/// (<see cref="Arm"/>); before each boot the menu takes one try from the slot it is about to boot and,
/// when a slot has none left, steps to the next (cos → fallback → recovery) and says why. Once the
/// boot passes its health gate the agent clears the counters (<see cref="MarkGood"/>), so nothing an
/// earlier upgrade left behind can cause a fallback later. <see cref="Select"/> is the menu's logic
/// in C#, the reference the generated script is checked against.
/// </summary>
public static class BootAssessment
{
    /// <summary>GRUB script has no arithmetic: the menu counts down with a ladder of string compares up to this.</summary>
    public const int MaxTries = 9;

    public const int DefaultTries = 3;

    /// <summary>Arms counting after an upgrade: the new active and the passive each get <paramref name="tries"/> boots.</summary>
    public static void Arm(GrubEnvironment environment, int tries = DefaultTries)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (tries is < 1 or > MaxTries)
        {
            throw new InvalidGrubVariableException(GrubEnvironmentKeys.ActiveTriesLeft, $"boot tries must be between 1 and {MaxTries}, not {tries}");
        }

        var value = tries.ToString(CultureInfo.InvariantCulture);
        environment.Set(GrubEnvironmentKeys.ActiveTriesLeft, value);
        environment.Set(GrubEnvironmentKeys.PassiveTriesLeft, value);
        environment.Set(GrubEnvironmentKeys.BootTries, value);
        environment.Unset(GrubEnvironmentKeys.FallbackReason);
        environment.Unset(GrubEnvironmentKeys.LastBootEntry);
    }

    /// <summary>The running boot is good: stop counting, forget the last fallback decision.</summary>
    public static void MarkGood(GrubEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        environment.Unset(GrubEnvironmentKeys.ActiveTriesLeft);
        environment.Unset(GrubEnvironmentKeys.PassiveTriesLeft);
        environment.Unset(GrubEnvironmentKeys.BootTries);
        environment.Unset(GrubEnvironmentKeys.LastBootEntry);
        environment.Unset(GrubEnvironmentKeys.FallbackReason);
    }

    /// <summary>
    /// What the menu boots for this environment and what it saves back, exactly as the generated
    /// script decides (next_entry one-shot, saved_entry, counters).
    /// </summary>
    public static BootSelection Select(IReadOnlyDictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var after = new Dictionary<string, string>(environment, StringComparer.Ordinal);
        string entry;
        if (Value(environment, GrubEnvironmentKeys.NextEntry) is { } next)
        {
            entry = next;
            after.Remove(GrubEnvironmentKeys.NextEntry);
        }
        else
        {
            entry = Value(environment, GrubEnvironmentKeys.SavedEntry) ?? GrubMenu.ActiveEntry;
        }

        var counted = false;
        if (entry == GrubMenu.ActiveEntry && Value(after, GrubEnvironmentKeys.ActiveTriesLeft) is { } activeTries)
        {
            counted = true;
            if (activeTries == "0")
            {
                entry = GrubMenu.PassiveEntry;
                after[GrubEnvironmentKeys.FallbackReason] = "active: no tries left";
            }
            else
            {
                after[GrubEnvironmentKeys.ActiveTriesLeft] = Decrement(activeTries);
            }
        }

        if (entry == GrubMenu.PassiveEntry && Value(after, GrubEnvironmentKeys.PassiveTriesLeft) is { } passiveTries)
        {
            counted = true;
            if (passiveTries == "0")
            {
                entry = GrubMenu.RecoveryEntry;
                after[GrubEnvironmentKeys.FallbackReason] = "passive: no tries left";
            }
            else
            {
                after[GrubEnvironmentKeys.PassiveTriesLeft] = Decrement(passiveTries);
            }
        }

        if (counted)
        {
            after[GrubEnvironmentKeys.LastBootEntry] = entry;
        }

        return new BootSelection(entry, after);
    }

    /// <summary>A try count the menu can lower (1 to <see cref="MaxTries"/>, one digit), or null.</summary>
    public static string? ValidTries(string? tries) =>
        tries is { Length: 1 } && int.TryParse(tries, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxTries ? tries : null;

    /// <summary>One less try; anything that is not a count GRUB can lower is treated as none left.</summary>
    internal static string Decrement(string tries) =>
        int.TryParse(tries, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxTries && tries.Length == 1
            ? (n - 1).ToString(CultureInfo.InvariantCulture)
            : "0";

    private static string? Value(IReadOnlyDictionary<string, string> environment, string key) =>
        environment.TryGetValue(key, out var value) && value.Length > 0 ? value : null;
}

/// <summary>The entry the menu boots and the grubenv it leaves behind.</summary>
public sealed record BootSelection(string Entry, IReadOnlyDictionary<string, string> Environment);
