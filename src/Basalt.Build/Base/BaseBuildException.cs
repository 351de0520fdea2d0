namespace Basalt.Build.Base;

public sealed class NoAptMirrorException : BuildException
{
    public NoAptMirrorException(string suite)
        : base($"no apt mirror serving '{suite}' main is configured on this machine",
               "add one to /etc/apt/sources.list(.d) or pass --mirror URL")
    {
    }

    public override string Kind => "no-apt-mirror";
}
