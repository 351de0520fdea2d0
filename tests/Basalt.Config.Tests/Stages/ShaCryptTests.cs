using Basalt.Config.Stages;

namespace Basalt.Config.Tests.Stages;

public sealed class ShaCryptTests
{
    // Vectors from Ulrich Drepper's SHA-crypt specification (sha-crypt.txt, SHA-512 section).
    [Theory]
    [InlineData("Hello world!", "saltstring", null, "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1")]
    [InlineData("Hello world!", "saltstringsaltstring", 10000, "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.")]
    [InlineData("This is just a test", "toolongsaltstring", 5000, "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0")]
    [InlineData("a very much longer text to encrypt.  This one even stretches over morethan one line.", "anotherlongsaltstring", 1400, "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1")]
    [InlineData("we have a short salt string but not a short password", "short", 77777, "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0")]
    [InlineData("a short string", "asaltof16chars..", 123456, "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1")]
    [InlineData("the minimum number is still observed", "roundstoolow", 10, "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.")]
    public void Drepper_vectors_come_out_exactly(string password, string salt, int? rounds, string expected)
    {
        Assert.Equal(expected, ShaCrypt.Hash(password, salt, rounds));
    }

    [Fact]
    public void The_default_form_matches_openssl_passwd_6()
    {
        // openssl passwd -6 -salt saltsalt hello
        Assert.Equal("$6$saltsalt$YTeBOLnmm3CoeJTzBuijUEtOEWCqrw/nQ8/AeMmON4LGp3k0ZiMjC1OdqzWFUAfDQBvYkOch9BWtQTBcZ1E/p0", ShaCrypt.Hash("hello", "saltsalt"));
    }

    [Fact]
    public void A_fresh_hash_has_a_random_salt_and_verifies()
    {
        var first = ShaCrypt.HashPassword("kairos");
        var second = ShaCrypt.HashPassword("kairos");
        Assert.StartsWith("$6$", first, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        Assert.True(ShaCrypt.Verify("kairos", first));
        Assert.False(ShaCrypt.Verify("other", first));
        Assert.True(ShaCrypt.Verify("Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."));
    }
}
