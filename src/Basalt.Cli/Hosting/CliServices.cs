using Basalt.Oci.Images;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;

namespace Basalt.Cli.Hosting;

/// <summary>
/// The composition root of the shipped CLI: one blob store, one registry client and the services built
/// on them, made on first use from the global settings. Subsystems add their services here as lazily
/// built properties; tests construct it with their own store and registry client.
/// </summary>
public sealed class CliServices : ICliServices
{
    private readonly Lazy<BlobStore> _store;
    private readonly Lazy<IRegistryClient> _registry;
    private readonly Lazy<ImageService> _images;

    public CliServices(GlobalSettings settings, Func<BlobStore> store, Func<IRegistryClient> registry, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(registry);
        Settings = settings;
        _store = new Lazy<BlobStore>(store);
        _registry = new Lazy<IRegistryClient>(registry);
        _images = new Lazy<ImageService>(() => new ImageService(Store, Registry, clock));
    }

    public GlobalSettings Settings { get; }

    public BlobStore Store => _store.Value;

    public IRegistryClient Registry => _registry.Value;

    public ImageService Images => _images.Value;

    public static ICliServices Create(GlobalSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new CliServices(
            settings,
            () => new BlobStore(settings.CacheDir ?? BlobStore.DefaultRoot()),
            () => new RegistryClient(new RegistryOptions
            {
                InsecureRegistries = new HashSet<string>(settings.InsecureRegistries, StringComparer.OrdinalIgnoreCase),
            }));
    }

    public ValueTask DisposeAsync()
    {
        if (_registry.IsValueCreated && _registry.Value is IDisposable disposable)
        {
            disposable.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
