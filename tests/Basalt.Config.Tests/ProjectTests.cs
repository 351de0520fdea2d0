using Basalt.Config;

namespace Basalt.Config.Tests;

public sealed class ProjectTests
{
    [Fact]
    public void Config_errors_are_basalt_errors_the_cli_prints_without_a_stack_trace()
    {
        Assert.True(typeof(Basalt.Platform.BasaltException).IsAssignableFrom(typeof(ConfigException)));
    }
}
