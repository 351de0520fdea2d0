using System.Text;
using System.Text.Json;

namespace Basalt.Testing;

/// <summary>
/// A docker <c>config.json</c> with an <c>auths</c> map, as <c>docker login</c> writes it. Point a client at it
/// with <see cref="Environment"/> (<c>DOCKER_CONFIG</c> for Docker-style clients, <c>REGISTRY_AUTH_FILE</c> for
/// skopeo and Basalt) or pass <see cref="Path"/> to <c>skopeo --authfile</c>.
/// </summary>
public sealed class DockerConfigFile
{
    private readonly SortedDictionary<string, (string Username, string Password)> _auths = new(StringComparer.Ordinal);

    public DockerConfigFile(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
    }

    /// <summary>The directory holding config.json (what <c>DOCKER_CONFIG</c> names).</summary>
    public string Directory { get; }

    public string Path => System.IO.Path.Combine(Directory, "config.json");

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["DOCKER_CONFIG"] = Directory,
        ["REGISTRY_AUTH_FILE"] = Path,
    };

    /// <summary>Adds credentials for <paramref name="registry"/> (a host[:port] as in image references).</summary>
    public DockerConfigFile Add(string registry, string username, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        _auths[registry] = (username, password);
        return this;
    }

    public void Save()
    {
        System.IO.Directory.CreateDirectory(Directory);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("auths");
            foreach (var (registry, (username, password)) in _auths)
            {
                writer.WriteStartObject(registry);
                writer.WriteString("auth", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        File.WriteAllBytes(Path, stream.ToArray());
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
