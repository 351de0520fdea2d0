using System.ComponentModel;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using Basalt.Config.Model;

namespace Basalt.Config;

/// <summary>The JSON schema of the cloud-config, generated from the model's source-generated metadata.</summary>
public static class ConfigSchema
{
    public static JsonNode Generate()
    {
        var options = new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = false,
            TransformSchemaNode = (context, schema) =>
            {
                var description = context.PropertyInfo?.AttributeProvider is { } provider
                    ? provider.GetCustomAttributes(typeof(DescriptionAttribute), inherit: false).OfType<DescriptionAttribute>().FirstOrDefault()?.Description
                    : null;
                if (description is not null && schema is JsonObject schemaObject)
                {
                    schemaObject.Insert(0, "description", description);
                }

                return schema;
            },
        };
        var schema = ConfigJsonContext.Default.CloudConfig.GetJsonSchemaAsNode(options);
        if (schema is JsonObject root)
        {
            root.Insert(0, "$schema", "https://json-schema.org/draft/2020-12/schema");
            root.Insert(1, "title", "Basalt cloud-config (Kairos compatible)");
            root.Insert(2, "description", "Files start with #cloud-config; unknown keys are kept and reported as warnings.");
            root["type"] = "object";
        }

        return schema;
    }
}
