using Basalt.Build.Artifacts;
using Basalt.Testing;

namespace Basalt.Build.Tests.Artifacts;

public sealed class CloudConfigFileTests : IDisposable
{
    private readonly TempDirectory _temp = new("cloud-config-file");

    public void Dispose() => _temp.Dispose();

    private string Write(string text)
    {
        var path = _temp.Combine($"config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_valid_cloud_config_passes()
    {
        CloudConfigFile.EnsureValid(Write("#cloud-config\nhostname: node1\nstages:\n  boot:\n    - commands: [\"echo hi\"]\n"));
    }

    [Fact]
    public void A_missing_file_is_its_own_error()
    {
        Assert.Throws<CloudConfigNotFoundException>(() => CloudConfigFile.EnsureValid(_temp.Combine("missing.yaml")));
    }

    [Theory]
    [InlineData("hostname: node1\n", "no #cloud-config line")]
    [InlineData("#cloud-config\nhostname: [unclosed\n", "config-")]
    [InlineData("#cloud-config\nstages: 5\n", "stages")]
    public void A_file_a_node_would_skip_or_refuse_is_invalid_and_says_why(string text, string expected)
    {
        var error = Assert.Throws<InvalidCloudConfigException>(() => CloudConfigFile.EnsureValid(Write(text)));

        Assert.Contains(expected, error.Message);
        Assert.Contains("basalt config validate", error.Hint);
    }
}
