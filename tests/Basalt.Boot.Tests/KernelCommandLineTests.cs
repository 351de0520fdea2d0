using Basalt.Boot;
using Basalt.Boot.CommandLine;

namespace Basalt.Boot.Tests;

public sealed class KernelCommandLineTests
{
    [Fact]
    public void Splits_words_keys_values_and_bare_flags()
    {
        var line = KernelCommandLine.Parse("  root=LABEL=COS_ACTIVE ro\tquiet  panic=5\n");

        Assert.Equal(
            [new KernelParameter("root", "LABEL=COS_ACTIVE"), new KernelParameter("ro", null), new KernelParameter("quiet", null), new KernelParameter("panic", "5")],
            line.Parameters);
        Assert.Equal("LABEL=COS_ACTIVE", line.GetValue("root"));
        Assert.True(line.Has("quiet"));
        Assert.Null(line.GetValue("quiet"));
    }

    [Theory]
    [InlineData("key=\"a b c\"", "key", "a b c")]
    [InlineData("\"key=a b c\"", "key", "a b c")]
    [InlineData("key=\"\"", "key", "")]
    [InlineData("key=", "key", "")]
    [InlineData("key=a\"b c\"d", "key", "a\"b c\"d")]
    [InlineData("key=x=y", "key", "x=y")]
    public void Handles_quotes_like_the_kernel(string text, string key, string value)
    {
        var line = KernelCommandLine.Parse(text);

        var parameter = Assert.Single(line.Parameters);
        Assert.Equal(key, parameter.Key);
        Assert.Equal(value, parameter.Value);
    }

    [Fact]
    public void Quoted_bare_word_loses_its_quotes()
    {
        var parameter = Assert.Single(KernelCommandLine.Parse("\"two words\"").Parameters);

        Assert.Equal(new KernelParameter("two words", null), parameter);
    }

    [Fact]
    public void Repeated_keys_keep_every_value_and_the_last_wins()
    {
        var line = KernelCommandLine.Parse("console=tty1 console=ttyS0,115200 rd.cos.mount=LABEL=A:/a rd.cos.mount=LABEL=B:/b");

        Assert.Equal("ttyS0,115200", line.GetValue("console"));
        Assert.Equal(["tty1", "ttyS0,115200"], line.GetValues("console"));
        Assert.Equal(["LABEL=A:/a", "LABEL=B:/b"], line.GetValues("rd.cos.mount"));
    }

    [Fact]
    public void Words_after_double_dash_go_to_init()
    {
        var line = KernelCommandLine.Parse("root=LABEL=X -- single emergency");

        Assert.Single(line.Parameters);
        Assert.Equal(["single", "emergency"], line.InitArguments);
    }

    [Theory]
    [InlineData("rd.immucore.debug", true)]
    [InlineData("rd.immucore.debug=1", true)]
    [InlineData("rd.immucore.debug=yes", true)]
    [InlineData("rd.immucore.debug=0", false)]
    [InlineData("rd.immucore.debug=1 rd.immucore.debug=off", false)]
    [InlineData("quiet", false)]
    public void Reads_switches(string text, bool expected)
    {
        Assert.Equal(expected, KernelCommandLine.Parse(text).GetSwitch("rd.immucore.debug"));
    }

    [Fact]
    public void A_switch_with_a_nonsense_value_is_an_error_that_names_the_key()
    {
        var error = Assert.Throws<InvalidBootCommandLineException>(() => KernelCommandLine.Parse("rd.immucore.debug=maybe").GetSwitch("rd.immucore.debug"));

        Assert.Contains("rd.immucore.debug=maybe", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.Hint);
    }

    [Fact]
    public void Seconds_must_be_a_whole_number()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), KernelCommandLine.Parse("rd.cos.oemtimeout=10").GetSeconds("rd.cos.oemtimeout"));
        Assert.Null(KernelCommandLine.Parse("quiet").GetSeconds("rd.cos.oemtimeout"));
        Assert.Throws<InvalidBootCommandLineException>(() => KernelCommandLine.Parse("rd.cos.oemtimeout=-3").GetSeconds("rd.cos.oemtimeout"));
        Assert.Throws<InvalidBootCommandLineException>(() => KernelCommandLine.Parse("rd.cos.oemtimeout=ten").GetSeconds("rd.cos.oemtimeout"));
    }

    [Theory]
    [InlineData("root=LABEL=COS_ACTIVE cos-img/filename=/cOS/active.img panic=5")]
    [InlineData("a=\"x y\" b \"c d\" e=")]
    [InlineData("k=v -- init args")]
    public void Formatting_parses_back_to_the_same_parameters(string text)
    {
        var line = KernelCommandLine.Parse(text);

        var again = KernelCommandLine.Parse(line.Format());

        Assert.Equal(line.Parameters, again.Parameters);
        Assert.Equal(line.InitArguments, again.InitArguments);
    }
}
