using System.Text.RegularExpressions;

namespace Basalt.Config.Stages;

internal sealed partial class StepExecutor
{
    private const string NoPassword = "*";
    private const int HumanIdMin = 1000;
    private const int HumanIdMax = 60000;
    private const int SystemIdMin = 100;
    private const int SystemIdMax = 999;

    [GeneratedRegex(@"^!?\$[0-9a-z]+\$", RegexOptions.CultureInvariant)]
    private static partial Regex CryptHash();

    /// <summary>A crypt hash (or a lock marker) is stored as it is; anything else is a plain password.</summary>
    internal static bool IsHashed(string password) =>
        CryptHash().IsMatch(password) || password is "!" or "*" or "!*" or "!!";

    private async Task EnsureUserAsync(StageUser user, CancellationToken cancellationToken)
    {
        var existing = Accounts.FindUser(user.Name);
        var hash = user.Password switch
        {
            null or "" => null,
            var given when IsHashed(given) => given,
            var plain => ShaCrypt.HashPassword(plain),
        };

        if (existing is null)
        {
            CreateUser(user, hash);
        }
        else
        {
            ModifyUser(user, existing, hash);
        }

        if (!DryRun)
        {
            Accounts.Save();
        }

        if (user.SshAuthorizedKeys.Count > 0)
        {
            await AuthorizeKeysAsync(user.Name, user.SshAuthorizedKeys, cancellationToken).ConfigureAwait(false);
        }
    }

    private void CreateUser(StageUser user, string? hash)
    {
        var accounts = Accounts;
        var defaults = ReadKeyValues("/etc/default/useradd", '=');
        var (idMin, idMax) = user.System ? (SystemIdMin, SystemIdMax) : (HumanIdMin, HumanIdMax);
        var uid = user.Uid ?? accounts.NextFreeUid(idMin, idMax);
        int gid;
        if (!string.IsNullOrEmpty(user.PrimaryGroup))
        {
            gid = accounts.FindGroup(user.PrimaryGroup)?.Gid
                ?? throw new StageStepException($"primary group '{user.PrimaryGroup}' of '{user.Name}' is not in the root's /etc/group");
        }
        else if (user.NoUserGroup)
        {
            gid = accounts.FindGroup("users")?.Gid ?? 100;
        }
        else if (accounts.FindGroup(user.Name) is { } own)
        {
            gid = own.Gid;
        }
        else
        {
            gid = accounts.IsGidFree(uid) ? uid : accounts.NextFreeGid(idMin, idMax);
            accounts.SetGroup(new GroupEntry(user.Name, "x", gid, []));
            Record($"create group {user.Name} ({gid})");
        }

        var home = user.Homedir ?? $"{defaults.GetValueOrDefault("HOME", "/home").TrimEnd('/')}/{user.Name}";
        var shell = user.Shell ?? defaults.GetValueOrDefault("SHELL", "/bin/sh");
        accounts.SetUser(new PasswdEntry(user.Name, "x", uid, gid, user.Gecos ?? string.Empty, home, shell));
        var password = hash ?? NoPassword;
        accounts.SetPassword(user.Name, user.LockPassword ? Lock(password) : password, context.Options.Clock.GetUtcNow());
        Record($"create user {user.Name} (uid {uid}, gid {gid}, home {home}, shell {shell}{PasswordNote(hash, user.LockPassword)})");
        AddToGroups(user);

        if (!user.NoCreateHome && !user.System)
        {
            Record($"create home {home} owned by {uid}:{gid}");
            if (!DryRun)
            {
                var host = context.Host(home, followLast: true);
                var created = RootFiles.CreateDirectories(host, RootFiles.DirectoryDefault);
                if (created.Count > 0)
                {
                    context.Ownership.ChangeOwner(host, uid, gid);
                }
            }
        }
    }

    private void ModifyUser(StageUser user, PasswdEntry existing, string? hash)
    {
        var accounts = Accounts;
        var updated = existing;
        if (user.Uid is { } uid && uid != existing.Uid)
        {
            updated = updated with { Uid = uid };
        }

        if (!string.IsNullOrEmpty(user.PrimaryGroup))
        {
            var gid = accounts.FindGroup(user.PrimaryGroup)?.Gid
                ?? throw new StageStepException($"primary group '{user.PrimaryGroup}' of '{user.Name}' is not in the root's /etc/group");
            updated = updated with { Gid = gid };
        }

        updated = updated with
        {
            Gecos = user.Gecos ?? updated.Gecos,
            Home = user.Homedir ?? updated.Home,
            Shell = user.Shell ?? updated.Shell,
        };
        if (updated != existing)
        {
            accounts.SetUser(updated);
            Record($"modify user {user.Name} (uid {updated.Uid}, gid {updated.Gid}, home {updated.Home}, shell {updated.Shell})");
        }

        if (hash is not null || user.LockPassword)
        {
            var current = accounts.FindShadow(user.Name)?[1] ?? NoPassword;
            var password = hash ?? current;
            accounts.SetPassword(user.Name, user.LockPassword ? Lock(password) : password, context.Options.Clock.GetUtcNow());
            Record($"set password of {user.Name}{PasswordNote(hash, user.LockPassword)}");
        }

        AddToGroups(user);
    }

    private static string Lock(string password) => password.StartsWith('!') ? password : "!" + password;

    private static string PasswordNote(string? hash, bool locked) =>
        (hash is null ? ", no password" : ", password set") + (locked ? ", locked" : string.Empty);

    private void AddToGroups(StageUser user)
    {
        foreach (var name in user.Groups)
        {
            if (Accounts.FindGroup(name) is not { } group)
            {
                Record($"group {name} does not exist in the root; {user.Name} not added to it");
                continue;
            }

            if (!group.Members.Contains(user.Name))
            {
                Accounts.SetGroup(group with { Members = [.. group.Members, user.Name] });
                Record($"add {user.Name} to group {name}");
            }
        }
    }

    // --- authorized keys ---------------------------------------------------------------------------

    private async Task AuthorizeKeysAsync(string userName, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var entry = Accounts.FindUser(userName) ?? throw new StageStepException($"user '{userName}' is not in the root's /etc/passwd; no keys added");
        var sshDirectory = entry.Home.TrimEnd('/') + "/.ssh";
        var file = sshDirectory + "/authorized_keys";
        Record($"authorize {keys.Count} key(s) in {file} ({entry.Uid}:{entry.Gid}, 0600)");
        if (DryRun)
        {
            return;
        }

        var resolved = new List<string>();
        foreach (var key in keys)
        {
            resolved.AddRange(await ResolveKeyAsync(key, cancellationToken).ConfigureAwait(false));
        }

        var homeHost = context.Host(entry.Home, followLast: true);
        if (RootFiles.CreateDirectories(homeHost, RootFiles.DirectoryDefault).Count > 0)
        {
            context.Ownership.ChangeOwner(homeHost, entry.Uid, entry.Gid);
        }

        var sshHost = context.Host(sshDirectory, followLast: true);
        var ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        RootFiles.CreateDirectories(sshHost, ownerOnly);
        context.Ownership.ChangeOwner(sshHost, entry.Uid, entry.Gid);
        File.SetUnixFileMode(sshHost, ownerOnly);

        var fileHost = context.Host(file);
        var lines = File.Exists(fileHost) ? File.ReadAllLines(fileHost).ToList() : [];
        foreach (var key in resolved.Select(k => k.Trim()).Where(k => k.Length > 0))
        {
            if (!lines.Contains(key))
            {
                lines.Add(key);
            }
        }

        RootFiles.WriteAtomic(fileHost, System.Text.Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n"))),
            UnixFileMode.UserRead | UnixFileMode.UserWrite, (entry.Uid, entry.Gid), context.Ownership);
    }

    /// <summary>A key as written, or the keys behind github:USER, gitlab:USER or an http(s) URL.</summary>
    private async Task<IReadOnlyList<string>> ResolveKeyAsync(string key, CancellationToken cancellationToken)
    {
        string? url = null;
        if (key.StartsWith("github:", StringComparison.Ordinal))
        {
            url = $"https://github.com/{Uri.EscapeDataString(key[7..].Trim())}.keys";
        }
        else if (key.StartsWith("gitlab:", StringComparison.Ordinal))
        {
            url = $"https://gitlab.com/{Uri.EscapeDataString(key[7..].Trim())}.keys";
        }
        else if (key.StartsWith("http://", StringComparison.Ordinal) || key.StartsWith("https://", StringComparison.Ordinal))
        {
            url = key;
        }

        if (url is null)
        {
            return [key];
        }

        var body = System.Text.Encoding.UTF8.GetString(await FetchAsync(url, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false));
        return body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
