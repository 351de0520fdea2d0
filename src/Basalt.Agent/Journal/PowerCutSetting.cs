using System.Globalization;
using Basalt.Disk;

namespace Basalt.Agent.Journal;

/// <summary>Which side of a journal step a cut falls on.</summary>
public enum StepSide
{
    /// <summary>The journal names the step, the step has not run.</summary>
    Before,

    /// <summary>The step ran, the journal does not yet name the next one.</summary>
    After,
}

/// <summary>Where an upgrade is cut short by fault injection (<see cref="PowerCutSetting"/>).</summary>
public abstract record PowerCutPoint
{
    /// <summary>The point in the form <see cref="PowerCutSetting.Parse"/> reads.</summary>
    public abstract string Text { get; }
}

/// <summary>A cut at a boundary of the step journal.</summary>
public sealed record StepPowerCut(SwapStep Step, StepSide Side) : PowerCutPoint
{
    public override string Text => $"{Step}:{Side.ToString().ToLowerInvariant()}";
}

/// <summary>
/// A cut while <c>transition.img</c> is written: once <see cref="AfterBytes"/> are allocated to it, or, with a
/// <see cref="Seed"/>, at a share of the tree's size (5 % to 90 %) drawn from that seed, the same for the same seed and tree.
/// </summary>
public sealed record ImageWritePowerCut(long? AfterBytes, int? Seed) : PowerCutPoint
{
    public override string Text => Seed is { } seed
        ? string.Create(CultureInfo.InvariantCulture, $"{PowerCutSetting.ImageWrite}:seed={seed}")
        : string.Create(CultureInfo.InvariantCulture, $"{PowerCutSetting.ImageWrite}:{AfterBytes}");

    /// <summary>The bytes written after which the cut falls, for an image expected to take <paramref name="expectedBytes"/>.</summary>
    public long ThresholdFor(long expectedBytes)
    {
        if (AfterBytes is { } bytes)
        {
            return bytes;
        }

        var share = 0.05 + (0.85 * new Random(Seed ?? 0).NextDouble());
        return (long)(Math.Max(0, expectedBytes) * share);
    }
}

/// <summary>
/// The fault-injection setting <c>BASALT_FAULT_POWERCUT_AT</c>, read by <c>basalt upgrade</c>. Forms:
/// <list type="bullet">
/// <item><c>STEP[:before|after]</c>: STEP is a <see cref="SwapStep"/> name (any case) or its number (0 = Staging … 8 =
/// RecordingHistory); the side defaults to before (the journal already names the step);</item>
/// <item><c>image-write:SIZE</c>: once SIZE bytes (K, M, G suffixes) of <c>transition.img</c> are written;</item>
/// <item><c>image-write:seed=N</c>: at an instant of the image write drawn from the seed N.</item>
/// </list>
/// Meant for tests of power-cut safety only: the machine is reset with no sync.
/// </summary>
public static class PowerCutSetting
{
    public const string EnvironmentVariable = "BASALT_FAULT_POWERCUT_AT";
    public const string ImageWrite = "image-write";

    /// <summary>The point named by the environment, or null when the variable is unset or empty.</summary>
    public static PowerCutPoint? FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        var text = getVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(text) ? null : Parse(text);
    }

    public static PowerCutPoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        var head = colon < 0 ? trimmed : trimmed[..colon];
        var tail = colon < 0 ? null : trimmed[(colon + 1)..];
        if (head.Equals(ImageWrite, StringComparison.OrdinalIgnoreCase))
        {
            return ParseImageWrite(text, tail);
        }

        var step = ParseStep(text, head);
        var side = tail?.ToLowerInvariant() switch
        {
            null or "before" => StepSide.Before,
            "after" => StepSide.After,
            _ => throw new PowerCutSettingInvalidException(text, $"'{tail}' is neither 'before' nor 'after'"),
        };
        return new StepPowerCut(step, side);
    }

    /// <summary>Every step boundary, before and after each step, in journal order.</summary>
    public static IReadOnlyList<PowerCutPoint> EveryStepBoundary() =>
        [.. Enum.GetValues<SwapStep>().SelectMany(step => new PowerCutPoint[] { new StepPowerCut(step, StepSide.Before), new StepPowerCut(step, StepSide.After) })];

    private static SwapStep ParseStep(string text, string head)
    {
        if (head.Length > 0 && head.All(char.IsAsciiDigit))
        {
            if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && Enum.IsDefined((SwapStep)number))
            {
                return (SwapStep)number;
            }

            throw new PowerCutSettingInvalidException(text, $"there is no step {head}; steps are numbered 0 to {Enum.GetValues<SwapStep>().Length - 1}");
        }

        foreach (var step in Enum.GetValues<SwapStep>())
        {
            if (step.ToString().Equals(head, StringComparison.OrdinalIgnoreCase))
            {
                return step;
            }
        }

        throw new PowerCutSettingInvalidException(text, $"'{head}' is not a step of the journal");
    }

    private static ImageWritePowerCut ParseImageWrite(string text, string? argument)
    {
        if (string.IsNullOrWhiteSpace(argument))
        {
            throw new PowerCutSettingInvalidException(text, $"{ImageWrite} needs a size (e.g. {ImageWrite}:64M) or a seed ({ImageWrite}:seed=7)");
        }

        if (argument.StartsWith("seed=", StringComparison.OrdinalIgnoreCase))
        {
            var seedText = argument["seed=".Length..];
            if (!int.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out var seed))
            {
                throw new PowerCutSettingInvalidException(text, $"'{seedText}' is not a seed: use a whole number from 0 to {int.MaxValue}");
            }

            return new ImageWritePowerCut(null, seed);
        }

        try
        {
            return new ImageWritePowerCut(ByteSize.Parse(argument), null);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new PowerCutSettingInvalidException(text, $"'{argument}' is not a size ({e.Message})");
        }
    }
}

/// <summary>The fault-injection setting cannot be read; nothing was changed.</summary>
public sealed class PowerCutSettingInvalidException : AgentException
{
    public PowerCutSettingInvalidException(string value, string reason)
        : base(
            $"{PowerCutSetting.EnvironmentVariable}='{value}' is not a power-cut point: {reason}",
            $"use STEP[:before|after] (STEP one of {string.Join(", ", Enum.GetNames<SwapStep>())}, or 0 to {Enum.GetValues<SwapStep>().Length - 1}), " +
            $"{PowerCutSetting.ImageWrite}:SIZE or {PowerCutSetting.ImageWrite}:seed=N; unset the variable for a normal upgrade")
    {
        Value = value;
    }

    public string Value { get; }

    public override string Kind => "fault-setting-invalid";
}

/// <summary>Turns a <see cref="PowerCutPoint"/> into the <see cref="SwapHooks"/> that cut there.</summary>
public static class PowerCutHooks
{
    /// <summary>
    /// Hooks that call <paramref name="cut"/> (a hard reset on a real node, a thrown exception in tests) at
    /// <paramref name="point"/>, once. <paramref name="isPowerCut"/> tells which exceptions stand for the cut.
    /// </summary>
    public static SwapHooks For(PowerCutPoint point, Action<PowerCutPoint> cut, Func<Exception, bool>? isPowerCut = null)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(cut);
        var predicate = isPowerCut ?? (_ => false);
        return point switch
        {
            StepPowerCut { Side: StepSide.Before } at => new SwapHooks { BeforeStep = step => CutAt(step, at, cut), IsPowerCut = predicate },
            StepPowerCut at => new SwapHooks { AfterStep = step => CutAt(step, at, cut), IsPowerCut = predicate },
            ImageWritePowerCut write => new SwapHooks
            {
                WhilePreparing = progress =>
                {
                    if (progress.WrittenBytes >= write.ThresholdFor(progress.ExpectedBytes))
                    {
                        cut(write);
                    }
                },
                IsPowerCut = predicate,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(point), point, "not a known power-cut point"),
        };
    }

    private static void CutAt(SwapStep step, StepPowerCut at, Action<PowerCutPoint> cut)
    {
        if (step == at.Step)
        {
            cut(at);
        }
    }
}
