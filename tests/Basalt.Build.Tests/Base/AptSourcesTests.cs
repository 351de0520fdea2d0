using Basalt.Build.Base;

namespace Basalt.Build.Tests.Base;

public sealed class AptSourcesTests
{
    [Fact]
    public void Deb822_stanzas_give_one_source_per_uri_and_skip_disabled_ones()
    {
        const string text = """
            Types: deb
            URIs: http://deb.debian.org/debian
            Suites: bookworm bookworm-updates
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

            Types: deb
            URIs: http://deb.debian.org/debian-security
            Suites: bookworm-security
            Components: main

            Types: deb
            Enabled: no
            URIs: http://disabled.example/debian
            Suites: bookworm
            Components: main
            """;

        var sources = AptSources.ParseDeb822(text).ToList();

        Assert.Equal(2, sources.Count);
        Assert.Equal(new Uri("http://deb.debian.org/debian"), sources[0].Uri);
        Assert.Equal(["bookworm", "bookworm-updates"], sources[0].Suites);
        Assert.Equal(new Uri("http://deb.debian.org/debian"), AptSources.FindDebianMirror(sources, "bookworm"));
    }

    [Fact]
    public void One_line_format_handles_options_comments_and_deb_src()
    {
        const string text = """
            # a comment
            deb-src http://src.example/debian bookworm main
            deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib # trailing
            deb http://security.example/debian-security bookworm-security main
            """;

        var sources = AptSources.ParseOneLine(text).ToList();

        Assert.Equal(2, sources.Count);
        Assert.Equal(new Uri("http://mirror.example/debian"), sources[0].Uri);
        Assert.Equal(["main", "contrib"], sources[0].Components);
        Assert.Equal(new Uri("http://mirror.example/debian"), AptSources.FindDebianMirror(sources, "bookworm"));
        Assert.Null(AptSources.FindDebianMirror(sources, "trixie"));
    }

    [Fact]
    public void Reads_both_formats_from_an_etc_apt_tree()
    {
        using var etc = new Basalt.Testing.TempDirectory("apt");
        Directory.CreateDirectory(etc.Combine("sources.list.d"));
        File.WriteAllText(etc.Combine("sources.list"), "deb http://one.example/debian bookworm main\n");
        File.WriteAllText(etc.Combine("sources.list.d", "b.sources"), "Types: deb\nURIs: http://two.example/debian\nSuites: trixie\nComponents: main\n");

        var sources = AptSources.Read(etc.Path);

        Assert.Equal(["http://one.example/debian", "http://two.example/debian"], sources.Select(s => s.Uri.AbsoluteUri.TrimEnd('/')));
    }
}
