using System.Text.Json.Nodes;
using Basalt.Config.Yaml;

namespace Basalt.Config.Tests.Yaml;

public sealed class YamlWriterTests
{
    [Fact]
    public void Written_yaml_reads_back_to_the_same_tree()
    {
        var tree = JsonNode.Parse("""
            {"hostname":"edge","s":"true","n":"0644","e":"","nil":null,"b":false,"i":42,"d":1.5,
             "multi":"line one\nline two\n","list":["a",1,{"k":"v"}],"empty":{},"none":[],"colon":"a: b","hash":"#x"}
            """)!.AsObject();

        var yaml = YamlWriter.Write(tree);
        var back = YamlDocumentLoader.Load(yaml, "round-trip");

        Assert.True(JsonNode.DeepEquals(tree, back.Root), yaml);
    }
}
