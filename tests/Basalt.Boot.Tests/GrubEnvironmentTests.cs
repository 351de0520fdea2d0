using System.Text;
using Basalt.Boot.Grub;
using Basalt.Testing;

namespace Basalt.Boot.Tests;

public sealed class GrubEnvironmentTests
{
    [Fact]
    public void An_empty_block_is_the_header_padded_with_hashes_to_1024_bytes()
    {
        var block = GrubEnvironment.Create().ToBytes();

        Assert.Equal(1024, block.Length);
        Assert.StartsWith("# GRUB Environment Block\n", Encoding.ASCII.GetString(block), StringComparison.Ordinal);
        Assert.All(block.Skip(GrubEnvironment.Header.Length), b => Assert.Equal((byte)'#', b));
    }

    [Fact]
    public void Variables_are_written_as_name_value_lines_in_order()
    {
        var environment = GrubEnvironment.Create();
        environment.Set("next_entry", "fallback");
        environment.Set("saved_entry", "cos");
        environment.Set("next_entry", "recovery");

        var text = Encoding.ASCII.GetString(environment.ToBytes());

        Assert.StartsWith("# GRUB Environment Block\nnext_entry=recovery\nsaved_entry=cos\n###", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Backslash_and_newline_are_escaped_as_grub_does_and_read_back()
    {
        var environment = GrubEnvironment.Create();
        environment.Set("extra_cmdline", "a\\b\nc=d");

        var bytes = environment.ToBytes();
        var text = Encoding.ASCII.GetString(bytes);
        var back = GrubEnvironment.Parse(bytes);

        Assert.Contains("extra_cmdline=a\\\\b\\\nc=d\n", text, StringComparison.Ordinal);
        Assert.Equal("a\\b\nc=d", back.Get("extra_cmdline"));
    }

    [Fact]
    public void Round_trips_through_a_file_and_keeps_the_block_size()
    {
        using var temp = new TempDirectory("grubenv");
        var path = temp.Combine("grubenv");
        var environment = GrubEnvironment.Create(2048);
        environment.Set("extra_active_cmdline", "quiet loglevel=3");
        environment.Set("default_menu_entry", "My Node");
        environment.Save(path);

        var loaded = GrubEnvironment.Load(path);

        Assert.Equal(2048, new FileInfo(path).Length);
        Assert.Equal(2048, loaded.Size);
        Assert.Equal(environment.Variables, loaded.Variables);
        Assert.True(loaded.Unset("default_menu_entry"));
        Assert.False(loaded.Unset("default_menu_entry"));
        Assert.Null(loaded.Get("default_menu_entry"));
    }

    [Fact]
    public void A_value_that_does_not_fit_is_refused_and_nothing_changes()
    {
        var environment = GrubEnvironment.Create();
        environment.Set("extra_cmdline", new string('x', 900));
        var before = environment.ToBytes();

        var error = Assert.Throws<GrubEnvironmentFullException>(() => environment.Set("extra_active_cmdline", new string('y', 200)));

        Assert.Equal("grubenv-full", error.Kind);
        Assert.Equal(before, environment.ToBytes());
    }

    [Fact]
    public void Exactly_full_is_allowed()
    {
        var environment = GrubEnvironment.Create();
        var room = 1024 - GrubEnvironment.Header.Length - "k=\n".Length;

        environment.Set("k", new string('v', room));

        Assert.Equal(0, environment.FreeBytes);
        Assert.Equal(1024, environment.ToBytes().Length);
        Assert.Throws<GrubEnvironmentFullException>(() => environment.Set("k", new string('v', room + 1)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a=b")]
    [InlineData("two words")]
    [InlineData("#comment")]
    [InlineData("new\nline")]
    public void Names_grub_cannot_read_back_are_refused(string name)
    {
        Assert.Throws<InvalidGrubVariableException>(() => GrubEnvironment.Create().Set(name, "x"));
    }

    [Theory]
    [InlineData("# GRUB Environment Blok\n####", "does not start")]
    [InlineData("# GRUB Environment Block\nnoequals\n###", "has no '='")]
    [InlineData("# GRUB Environment Block\nname=unterminated", "runs past")]
    public void Malformed_blocks_are_reported(string content, string expected)
    {
        var error = Assert.Throws<MalformedGrubEnvironmentException>(() => GrubEnvironment.Parse(Encoding.ASCII.GetBytes(content), "test"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.Hint);
    }

    [Fact]
    public void Comment_lines_inside_the_block_are_skipped()
    {
        var block = Encoding.ASCII.GetBytes("# GRUB Environment Block\n# a comment\nsaved_entry=fallback\n" + new string('#', 100));

        Assert.Equal("fallback", GrubEnvironment.Parse(block).Get("saved_entry"));
    }
}
