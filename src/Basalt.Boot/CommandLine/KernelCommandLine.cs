using System.Globalization;
using System.Text;

namespace Basalt.Boot.CommandLine;

/// <summary>One word of the kernel command line: <c>key=value</c>, or a bare flag (<see cref="Value"/> null).</summary>
public sealed record KernelParameter(string Key, string? Value)
{
    /// <summary>The parameter written back so the kernel parses it to the same key and value.</summary>
    public string Format()
    {
        if (Value is null)
        {
            return NeedsQuotes(Key) ? $"\"{Key}\"" : Key;
        }

        return NeedsQuotes(Value) ? $"{Key}=\"{Value}\"" : $"{Key}={Value}";
    }

    private static bool NeedsQuotes(string text) => text.Length == 0 ? false : text.Any(KernelCommandLine.IsKernelSpace);
}

/// <summary>
/// The kernel command line, split exactly as Linux's <c>next_arg()</c> splits it: words separated by
/// whitespace, double quotes group words and are dropped around the value (<c>key="a b"</c>) or
/// around the whole word (<c>"key=a b"</c>), the first <c>=</c> separates key and value, keys may repeat.
/// Words after a lone <c>--</c> belong to init, not to the kernel.
/// </summary>
public sealed class KernelCommandLine
{
    private KernelCommandLine(string text, IReadOnlyList<KernelParameter> parameters, IReadOnlyList<string> initArguments)
    {
        Text = text;
        Parameters = parameters;
        InitArguments = initArguments;
    }

    /// <summary>The command line as given (trimmed).</summary>
    public string Text { get; }

    /// <summary>Every kernel parameter in order, repeated keys kept.</summary>
    public IReadOnlyList<KernelParameter> Parameters { get; }

    /// <summary>The words after <c>--</c>, handed to init.</summary>
    public IReadOnlyList<string> InitArguments { get; }

    public static KernelCommandLine Empty { get; } = new(string.Empty, [], []);

    public static KernelCommandLine Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parameters = new List<KernelParameter>();
        var initArguments = new List<string>();
        var position = 0;
        var afterDoubleDash = false;
        while (true)
        {
            while (position < text.Length && IsKernelSpace(text[position]))
            {
                position++;
            }

            if (position >= text.Length)
            {
                break;
            }

            var (parameter, next) = NextArgument(text, position);
            position = next;
            if (afterDoubleDash)
            {
                initArguments.Add(parameter.Format());
            }
            else if (parameter is { Key: "--", Value: null })
            {
                afterDoubleDash = true;
            }
            else
            {
                parameters.Add(parameter);
            }
        }

        return new KernelCommandLine(text.Trim(), parameters, initArguments);
    }

    internal static bool IsKernelSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    // A transcription of lib/cmdline.c next_arg(): quotes toggle grouping, the first '=' outside
    // nothing in particular splits the word, quotes at the start of the value and at the end of
    // the word are removed; quotes elsewhere stay part of the text.
    private static (KernelParameter Parameter, int Next) NextArgument(string text, int start)
    {
        var position = start;
        var inQuote = false;
        var quoted = false;
        if (text[position] == '"')
        {
            position++;
            inQuote = true;
            quoted = true;
        }

        var wordStart = position;
        var equals = -1;
        var end = position;
        for (; end < text.Length; end++)
        {
            var c = text[end];
            if (IsKernelSpace(c) && !inQuote)
            {
                break;
            }

            if (equals < 0 && c == '=')
            {
                equals = end;
            }

            if (c == '"')
            {
                inQuote = !inQuote;
            }
        }

        var wordEnd = end;
        var trailingQuote = wordEnd > wordStart && text[wordEnd - 1] == '"';
        string key;
        string? value;
        if (equals < 0)
        {
            var keyEnd = quoted && trailingQuote ? wordEnd - 1 : wordEnd;
            key = text[wordStart..keyEnd];
            value = null;
        }
        else
        {
            key = text[wordStart..equals];
            var valueStart = equals + 1;
            var valueEnd = wordEnd;
            if (valueStart < valueEnd && text[valueStart] == '"')
            {
                valueStart++;
                if (trailingQuote && valueEnd - 1 >= valueStart)
                {
                    valueEnd--;
                }
            }
            else if (quoted && trailingQuote && valueEnd - 1 >= valueStart)
            {
                valueEnd--;
            }

            value = text[valueStart..valueEnd];
        }

        return (new KernelParameter(key, value), end);
    }

    public bool Has(string key) => Parameters.Any(p => p.Key == key);

    /// <summary>The value of the last occurrence of <paramref name="key"/> that has one (the kernel's rule: last wins).</summary>
    public string? GetValue(string key)
    {
        for (var i = Parameters.Count - 1; i >= 0; i--)
        {
            if (Parameters[i].Key == key && Parameters[i].Value is not null)
            {
                return Parameters[i].Value;
            }
        }

        return null;
    }

    /// <summary>Every value given for a key that may repeat (e.g. <c>rd.cos.mount</c>), in order.</summary>
    public IReadOnlyList<string> GetValues(string key) =>
        Parameters.Where(p => p.Key == key && p.Value is not null).Select(p => p.Value!).ToList();

    /// <summary>
    /// A switch: present bare, or with a true value (<c>1</c>, <c>yes</c>, <c>true</c>, <c>on</c>, empty).
    /// A false value (<c>0</c>, <c>no</c>, <c>false</c>, <c>off</c>) turns it off; anything else is an error.
    /// The last occurrence wins.
    /// </summary>
    public bool GetSwitch(string key)
    {
        KernelParameter? last = null;
        foreach (var parameter in Parameters)
        {
            if (parameter.Key == key)
            {
                last = parameter;
            }
        }

        if (last is null)
        {
            return false;
        }

        return last.Value?.ToLowerInvariant() switch
        {
            null or "" or "1" or "yes" or "true" or "on" or "y" => true,
            "0" or "no" or "false" or "off" or "n" => false,
            _ => throw new InvalidBootCommandLineException(
                $"'{key}={last.Value}' is neither on nor off",
                $"write '{key}' or '{key}=1' to turn it on, '{key}=0' to turn it off"),
        };
    }

    /// <summary>A whole number of seconds, e.g. <c>rd.cos.oemtimeout=10</c>; null when absent.</summary>
    public TimeSpan? GetSeconds(string key)
    {
        var value = GetValue(key);
        if (value is null)
        {
            return null;
        }

        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 86_400)
        {
            throw new InvalidBootCommandLineException(
                $"'{key}={value}' is not a number of seconds",
                $"write a whole number of seconds between 0 and 86400, e.g. '{key}=30'");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>The command line written back, parameters in order (quotes added where needed).</summary>
    public string Format()
    {
        var builder = new StringBuilder();
        foreach (var parameter in Parameters)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(parameter.Format());
        }

        if (InitArguments.Count > 0)
        {
            builder.Append(" --");
            foreach (var argument in InitArguments)
            {
                builder.Append(' ').Append(argument);
            }
        }

        return builder.ToString();
    }

    public override string ToString() => Format();
}
