using Basalt.Oci.Registry.Auth;

namespace Basalt.Oci.Tests.Registry;

public sealed class AuthChallengeTests
{
    public static TheoryData<string, string, string, string?, string?> Single => new()
    {
        { "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/debian:pull\"", "Bearer", "https://auth.docker.io/token", "registry.docker.io", "repository:library/debian:pull" },
        { "Bearer realm=\"https://r.example/token\",service=\"r\",scope=\"repository:a/b:pull,push\"", "Bearer", "https://r.example/token", "r", "repository:a/b:pull,push" },
        { "Bearer realm=\"https://r.example/token?a=1,b=2\",scope=\"repository:x:pull,push repository:y:pull\"", "Bearer", "https://r.example/token?a=1,b=2", null, "repository:x:pull,push repository:y:pull" },
        { "bearer  realm = \"https://r/t\" ,  service=\"svc\"", "bearer", "https://r/t", "svc", null },
        { "Bearer realm=https://r/token,service=svc", "Bearer", "https://r/token", "svc", null },
        { "Bearer realm=\"https://r/\\\"quoted\\\"\"", "Bearer", "https://r/\"quoted\"", null, null },
        { "Basic realm=\"Registry Realm\"", "Basic", "Registry Realm", null, null },
        { "Basic realm=\"a, b\", charset=\"UTF-8\"", "Basic", "a, b", null, null },
    };

    [Theory]
    [MemberData(nameof(Single))]
    public void Parses_one_challenge(string header, string scheme, string realm, string? service, string? scope)
    {
        var challenge = Assert.Single(AuthChallenge.ParseAll(header));
        Assert.Equal(scheme, challenge.Scheme);
        Assert.Equal(realm, challenge.Realm);
        Assert.Equal(service, challenge.Service);
        Assert.Equal(scope, challenge.Scope);
    }

    [Fact]
    public void Parses_several_challenges_in_one_header()
    {
        var challenges = AuthChallenge.ParseAll("Basic realm=\"x, y\", Bearer realm=\"https://t/token\",service=\"s\", Negotiate");
        Assert.Equal(["Basic", "Bearer", "Negotiate"], challenges.Select(c => c.Scheme));
        Assert.Equal("x, y", challenges[0].Realm);
        Assert.True(challenges[1].IsBearer);
        Assert.Equal("s", challenges[1].Service);
        Assert.Empty(challenges[2].Parameters);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void Empty_header_has_no_challenge(string? header) => Assert.Empty(AuthChallenge.ParseAll(header));

    [Theory]
    [InlineData("Bearer realm=\"unterminated")]
    [InlineData("=== ,,, \"\"")]
    [InlineData("Bearer realm=")]
    public void Malformed_headers_do_not_hang_or_throw(string header)
    {
        var challenges = AuthChallenge.ParseAll(header);
        Assert.True(challenges.Count <= 2);
    }
}
