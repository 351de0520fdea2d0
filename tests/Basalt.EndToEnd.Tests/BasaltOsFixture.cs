using System.Diagnostics;
using Basalt.Build.Artifacts;
using Basalt.Build.Base;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// Builds, once per test run, what every boot scenario starts from: the basalt CLI (self-contained), a copy of the
/// cached debootstrap base turned into a Basalt OS tree by <c>basalt init --root</c>, and the disk built from it by
/// <see cref="DiskArtifactBuilder"/>. Each scenario boots its own sparse copy of the disk.
/// The base is cached under <c>${BASALT_TEST_CACHE:-/var/cache/basalt-test}</c> across runs;
/// <c>BASALT_E2E_BASALT</c> may name an already published basalt binary (CI publishes it once).
/// <c>BASALT_E2E_OS_CACHE</c> may name a directory that keeps the OS tree and the disk between runs: they are reused
/// while the published basalt binary is byte for byte the one they were built with, and rebuilt when it is not, so a
/// change to Basalt's code is never tested against an OS that carries an older Basalt.
/// </summary>
public sealed class BasaltOsFixture : IAsyncLifetime
{
    public const string RootPassword = "basalt-e2e";

    /// <summary>A fixed salt keeps the tree the same from run to run.</summary>
    private const string PasswordSalt = "basalte2esalt";

    private const string CacheVariable = "BASALT_E2E_OS_CACHE";
    private const string CacheStamp = "basalt.sha256";

    private readonly TempDirectory _work = new("e2e-os");
    private readonly ToolRunner _runner = new();
    private string? _osDirectory;
    private string? _basaltBinary;

    /// <summary>Where the OS tree and the disk live: the run's own work directory, or the cache.</summary>
    private string OsDirectory => _osDirectory ?? throw new InvalidOperationException("the end-to-end fixture is not initialized");

    public string DiskPath => Path.Combine(OsDirectory, "basalt.raw");

    /// <summary>The OS tree every disk is made from; scenarios read it and never change it.</summary>
    public string RootDirectory => Path.Combine(OsDirectory, "rootfs");

    /// <summary>The basalt binary this run tests (published from these sources, or BASALT_E2E_BASALT).</summary>
    public string BasaltBinary => _basaltBinary ?? throw new InvalidOperationException("the end-to-end fixture is not initialized");

    public IToolRunner Runner => _runner;

    /// <summary>How each build step went, for the test output.</summary>
    public List<string> Log { get; } = [];

    /// <summary>Puts <see cref="Log"/> at the head of a scenario's output, so every report says how its OS was made.</summary>
    public void WriteLogTo(Xunit.Abstractions.ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var line in Log)
        {
            output.WriteLine(line);
        }
    }

    public async Task InitializeAsync()
    {
        E2eRequirements.Check();
        var binary = await PublishCliAsync();
        _basaltBinary = binary;
        // The cache belongs to this basalt and this recipe: a change to either rebuilds it.
        var stamp = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(binary))) + " " + RecipeVersion;
        if (Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } cache)
        {
            Directory.CreateDirectory(cache);
            _osDirectory = cache;
            // Held while the cache is checked or built: a second run with the same cache (CI runs two side by side)
            // waits here and then reuses what the first one built. Scenarios only read the tree and copy the disk.
            using (await LockAsync(Path.Combine(cache, ".lock")))
            {
                var stampPath = Path.Combine(cache, CacheStamp);
                if (File.Exists(stampPath) && (await File.ReadAllTextAsync(stampPath)).Trim() == stamp && File.Exists(DiskPath))
                {
                    Log.Add($"OS tree and disk reused from {cache} (built with this basalt, sha256 {stamp[..12]})");
                    return;
                }

                File.Delete(stampPath);
                File.Delete(DiskPath);
                if (Directory.Exists(RootDirectory))
                {
                    await _runner.RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", RootDirectory]) { Package = "coreutils" });
                }

                await BuildOsAsync(binary);
                await File.WriteAllTextAsync(stampPath, stamp + "\n");
                Log.Add($"OS tree and disk kept in {cache} for runs with the same basalt");
                return;
            }
        }

        _osDirectory = _work.Path;
        await BuildOsAsync(binary);
    }

    private async Task BuildOsAsync(string binary)
    {
        var baseRootfs = await BuildBaseAsync();

        await Step("copy the base", () => _runner.RunAsync(new ToolInvocation("cp", ["-a", "--reflink=auto", baseRootfs.Path + "/.", RootDirectory + "/"])
        {
            Package = "coreutils",
        }), prepare: () => Directory.CreateDirectory(RootDirectory));

        await Step("trim kernel modules no test VM loads", TrimKernelModulesAsync);
        await Step("basalt init --root", () => _runner.RunAsync(new ToolInvocation(binary, ["init", "--root", RootDirectory]) { Timeout = TimeSpan.FromMinutes(20) }));
        foreach (var stockInitrd in Directory.EnumerateFiles(Path.Combine(RootDirectory, "boot"), "initrd.img-*"))
        {
            // Debian's own initramfs, made by the kernel package's hooks; the Basalt menu boots /boot/initrd only.
            File.Delete(stockInitrd);
        }

        foreach (var expected in new[] { "usr/bin/basalt", "boot/vmlinuz", "boot/initrd" })
        {
            if (RootedFile.Resolve(RootDirectory, "/" + expected) is null)
            {
                throw new InvalidOperationException($"basalt init ran but the tree has no /{expected}: the init command of this basalt binary ({binary}) does not produce a Basalt OS tree yet");
            }
        }

        await SetRootPasswordAsync();
        await Step("basalt build disk", () => new DiskArtifactBuilder(_runner).BuildAsync(new DiskArtifactOptions
        {
            RootDirectory = RootDirectory,
            OutputPath = DiskPath,
        }));
    }

    /// <summary>
    /// Drivers for hardware a QEMU q35 guest does not have (GPUs, cameras, sound, Wi-Fi, physical NICs, USB, HBAs): half
    /// of the tree. Every image the scenarios build, push, unpack, copy or squash inside a TCG guest shrinks with it.
    /// </summary>
    /// <summary>Raised whenever <see cref="BuildOsAsync"/> makes a different tree or disk from the same basalt.</summary>
    private const string RecipeVersion = "recipe-2";

    private static readonly string[] UnusedModuleDirectories =
    [
        "drivers/gpu", "drivers/media", "drivers/net/ethernet", "drivers/net/wireless", "drivers/usb", "drivers/infiniband",
        "drivers/iio", "drivers/staging", "drivers/hwmon", "drivers/comedi", "drivers/mtd", "drivers/target", "drivers/isdn",
        "drivers/bluetooth", "sound", "net/wireless", "net/mac80211", "net/bluetooth",
    ];

    private async Task TrimKernelModulesAsync()
    {
        foreach (var release in Directory.EnumerateDirectories(Path.Combine(RootDirectory, "usr", "lib", "modules")))
        {
            var kernel = Path.Combine(release, "kernel");
            var unused = UnusedModuleDirectories.Select(d => Path.Combine(kernel, d))
                .Concat(Directory.Exists(Path.Combine(kernel, "drivers", "scsi")) ? Directory.EnumerateDirectories(Path.Combine(kernel, "drivers", "scsi")) : []);
            foreach (var directory in unused.Where(Directory.Exists).ToList())
            {
                Directory.Delete(directory, recursive: true);
            }

            await _runner.RunAsync(new ToolInvocation("chroot", [RootDirectory, "depmod", Path.GetFileName(release)]) { Package = "coreutils" });
        }
    }

    /// <summary>A sparse copy of the built disk for one scenario, which may change it at will.</summary>
    public async Task<string> CopyDiskAsync(string directory)
    {
        var copy = Path.Combine(directory, "disk.raw");
        await _runner.RunAsync(new ToolInvocation("cp", ["--sparse=always", DiskPath, copy]) { Package = "coreutils" });
        return copy;
    }

    public Task DisposeAsync()
    {
        _work.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>An exclusive hold on the cache: another run with the same cache waits rather than build it twice.</summary>
    private static async Task<FileStream> LockAsync(string path)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < TimeSpan.FromMinutes(90))
            {
                await Task.Delay(TimeSpan.FromSeconds(5));
            }
        }
    }

    private async Task<string> PublishCliAsync()
    {
        if (Environment.GetEnvironmentVariable("BASALT_E2E_BASALT") is { Length: > 0 } given)
        {
            if (!File.Exists(given))
            {
                throw new InvalidOperationException($"BASALT_E2E_BASALT names '{given}', which does not exist");
            }

            Log.Add($"basalt binary: {given} (from BASALT_E2E_BASALT)");
            return given;
        }

        var repository = FindRepository();
        var output = _work.Combine("cli");
        await Step("publish the basalt CLI", () => _runner.RunAsync(new ToolInvocation("dotnet",
        [
            "publish", Path.Combine(repository, "src", "Basalt.Cli", "Basalt.Cli.csproj"),
            "-c", "Release", "-r", "linux-x64", "--self-contained", "true", "-o", output, "-nologo",
        ])
        {
            Timeout = TimeSpan.FromMinutes(30),
        }));
        return Path.Combine(output, "basalt");
    }

    private async Task<BaseRootfs> BuildBaseAsync()
    {
        var cache = Environment.GetEnvironmentVariable("BASALT_TEST_CACHE") is { Length: > 0 } configured ? configured : "/var/cache/basalt-test";
        var mirror = AptSources.FindDebianMirror(AptSources.Read(), BaseImageSpec.DefaultSuite) ?? new Uri("http://deb.debian.org/debian");
        var spec = new BaseImageSpec { Mirror = mirror };
        BaseRootfs? result = null;
        await Step($"debootstrap base ({cache})", async () => result = await new DebootstrapBaseBuilder(_runner).BuildAsync(spec, cache));
        return result!;
    }

    private async Task SetRootPasswordAsync()
    {
        var hash = (await _runner.RunAsync(new ToolInvocation("openssl", ["passwd", "-6", "-salt", PasswordSalt, RootPassword]) { Package = "openssl" })).StandardOutput.Trim();
        var shadow = Path.Combine(RootDirectory, "etc", "shadow");
        var lines = (await File.ReadAllLinesAsync(shadow)).Select(line =>
        {
            var fields = line.Split(':');
            if (fields.Length > 2 && fields[0] == "root")
            {
                fields[1] = hash;
            }

            return string.Join(':', fields);
        });
        await File.WriteAllLinesAsync(shadow, lines);
        Log.Add("root password set for the serial console login");
    }

    private async Task Step(string name, Func<Task> action, Action? prepare = null)
    {
        var stopwatch = Stopwatch.StartNew();
        prepare?.Invoke();
        try
        {
            await action();
        }
        catch (Exception exception)
        {
            throw new InvalidOperationException($"end-to-end setup step '{name}' failed after {stopwatch.Elapsed.TotalSeconds:0} s: {exception.Message}", exception);
        }

        Log.Add($"{name}: {stopwatch.Elapsed.TotalSeconds:0} s");
    }

    private static string FindRepository()
    {
        var built = typeof(BasaltOsFixture).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "BasaltRepository")?.Value;
        if (built is not null && File.Exists(Path.Combine(built, "Basalt.slnx")))
        {
            return built;
        }

        throw new InvalidOperationException($"the Basalt sources this test was built from ({built ?? "unknown"}) are gone: set BASALT_E2E_BASALT to a published basalt binary");
    }
}

[CollectionDefinition(Name)]
public sealed class BasaltOsCollection : ICollectionFixture<BasaltOsFixture>
{
    public const string Name = "basalt-os";
}

/// <summary>What every end-to-end test needs on the host; a missing piece fails with what to install.</summary>
public static class E2eRequirements
{
    public const string OvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";

    public static void Check()
    {
        Requires.Root();
        Requires.Tool("qemu-system-x86_64", "qemu-system-x86");
        Requires.Tool("debootstrap", "debootstrap");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("openssl", "openssl");
        Requires.Tool("dotnet", "dotnet-sdk-10.0");
        if (!File.Exists(OvmfCode))
        {
            throw new RequirementMissingException($"this test needs UEFI firmware at {OvmfCode}: apt-get install -y ovmf");
        }
    }
}
