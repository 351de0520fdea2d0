using System.Text;
using Basalt.Config;
using Basalt.Config.Collection;
using Basalt.Config.Model;
using Basalt.Config.Yaml;

namespace Basalt.Build.Artifacts;

/// <summary>
/// Checks a cloud-config file before an artifact carries it: it exists, parses, has a header the node's collector
/// accepts (a file without one is silently skipped at boot) and validates against the Basalt.Config model.
/// </summary>
public static class CloudConfigFile
{
    /// <summary>Throws <see cref="CloudConfigNotFoundException"/> or <see cref="InvalidCloudConfigException"/>; reads only.</summary>
    public static void EnsureValid(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new CloudConfigNotFoundException(path);
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new InvalidCloudConfigException(path, [$"cannot read it: {exception.Message}"]);
        }

        ConfigDocument document;
        try
        {
            document = YamlDocumentLoader.Load(bytes, path);
        }
        catch (ConfigSyntaxException exception)
        {
            throw new InvalidCloudConfigException(path, [exception.Message]);
        }

        var problems = new List<string>();
        var head = document.Header ?? Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 4096));
        if (!ConfigCollector.HasValidHeader(head))
        {
            problems.Add($"no {ConfigCollector.ValidHeaders[0]} line in the first 10 lines: the node would skip this file");
        }

        var validation = ConfigValidator.Validate(document);
        problems.AddRange(validation.Issues.Where(issue => issue.Severity == ConfigIssueSeverity.Error).Select(issue => issue.ToString()));
        if (problems.Count > 0)
        {
            throw new InvalidCloudConfigException(path, problems);
        }
    }
}
