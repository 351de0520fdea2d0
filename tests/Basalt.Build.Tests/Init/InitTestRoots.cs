using System.Text;

namespace Basalt.Build.Tests.Init;

/// <summary>Small fake root filesystems for plan and file-step tests.</summary>
internal static class InitTestRoots
{
    public const string Debian =
        """
        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        NAME="Debian GNU/Linux"
        VERSION_ID="12"
        VERSION="12 (bookworm)"
        VERSION_CODENAME=bookworm
        ID=debian
        HOME_URL="https://www.debian.org/"

        """;

    public const string Ubuntu =
        """
        PRETTY_NAME="Ubuntu 24.04.1 LTS"
        NAME="Ubuntu"
        VERSION_ID="24.04"
        ID=ubuntu
        ID_LIKE=debian

        """;

    public const string Fedora =
        """
        NAME="Fedora Linux"
        VERSION="40 (Container Image)"
        ID=fedora
        VERSION_ID=40
        PRETTY_NAME="Fedora Linux 40 (Container Image)"

        """;

    public const string Alpine =
        """
        NAME="Alpine Linux"
        ID=alpine
        VERSION_ID=3.20.3
        PRETTY_NAME="Alpine Linux v3.20"

        """;

    public static string Create(string directory, string? osRelease, IEnumerable<string>? installedPackages = null, bool kernel = false, bool osReleaseLink = true)
    {
        var root = Path.Combine(directory, "root");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "lib", "systemd", "system"));
        if (osRelease is not null)
        {
            if (osReleaseLink)
            {
                File.WriteAllText(Path.Combine(root, "usr", "lib", "os-release"), osRelease);
                File.CreateSymbolicLink(Path.Combine(root, "etc", "os-release"), "../usr/lib/os-release");
            }
            else
            {
                File.WriteAllText(Path.Combine(root, "etc", "os-release"), osRelease);
            }
        }

        Directory.CreateDirectory(Path.Combine(root, "var", "lib", "dpkg"));
        var status = new StringBuilder();
        foreach (var package in installedPackages ?? [])
        {
            status.Append("Package: ").Append(package).Append("\nStatus: install ok installed\nArchitecture: amd64\n\n");
        }

        File.WriteAllText(Path.Combine(root, "var", "lib", "dpkg", "status"), status.ToString());
        if (kernel)
        {
            AddKernel(root, "6.1.0-50-amd64");
        }

        File.WriteAllText(Path.Combine(root, "etc", "shadow"), "root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        File.WriteAllText(Path.Combine(root, "etc", "machine-id"), "0123456789abcdef0123456789abcdef\n");
        File.WriteAllText(Path.Combine(root, "usr", "lib", "systemd", "system", "systemd-networkd.service"),
            "[Unit]\nDescription=Network Configuration\n\n[Service]\nExecStart=/lib/systemd/systemd-networkd\n\n[Install]\nWantedBy=multi-user.target\nAlso=systemd-networkd.socket\nAlias=dbus-org.freedesktop.network1.service\n");
        File.WriteAllText(Path.Combine(root, "usr", "lib", "systemd", "system", "systemd-networkd.socket"),
            "[Socket]\nListenNetlink=route 1361\n\n[Install]\nWantedBy=sockets.target\n");
        return root;
    }

    public static void AddKernel(string root, string version)
    {
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        File.WriteAllText(Path.Combine(root, "boot", $"vmlinuz-{version}"), "kernel " + version);
        Directory.CreateDirectory(Path.Combine(root, "lib", "modules", version));
    }

    public static string FakeBinary(string directory)
    {
        var path = Path.Combine(directory, "basalt-binary");
        File.WriteAllText(path, "#!/bin/sh\necho basalt\n");
        return path;
    }
}
