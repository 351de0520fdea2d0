using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Basalt.Config.Stages;

/// <summary>
/// Reads the <c>stages</c> value of a cloud-config (stage name → list of steps) into a <see cref="StagePlan"/>.
/// Scalars are accepted in the loose way YAML users write them ("8.8.8.8", 8, true, "true");
/// anything of the wrong shape is an <see cref="InvalidStageException"/> naming stage, step and field.
/// </summary>
public static class StageParser
{
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "ensure_entities", "delete_entities", "packages", "package_pins", "git", "datasource",
        "unpack_images", "systemd_firstboot", "only_service_manager",
    };

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "name", "if", "only_os", "only_os_version", "only_arch", "node", "if_files", "after",
        "commands", "files", "directories", "users", "authorized_keys", "hostname", "dns", "sysctl",
        "modules", "systemctl", "environment", "environment_file", "timesyncd", "layout", "downloads",
    };

    /// <summary>Parses a <c>stages</c> node; null or an absent value gives an empty plan.</summary>
    public static StagePlan Parse(JsonNode? stages, string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new Dictionary<string, IReadOnlyList<StageStep>>(StringComparer.Ordinal);
        var warnings = new List<string>();
        if (stages is null)
        {
            return new StagePlan(source, result);
        }

        if (stages is not JsonObject map)
        {
            throw new InvalidStageException(source, "stages", -1, null, string.Empty, $"expected a map of stage name to a list of steps, found {Describe(stages)}");
        }

        foreach (var (stage, value) in map)
        {
            result[stage] = ParseStage(source, stage, value, warnings);
        }

        return new StagePlan(source, result) { Warnings = warnings };
    }

    /// <summary>Parses the list of steps of one stage.</summary>
    public static IReadOnlyList<StageStep> ParseStage(string source, string stage, JsonNode? steps, ICollection<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(warnings);
        if (steps is null)
        {
            return [];
        }

        if (steps is not JsonArray array)
        {
            throw new InvalidStageException(source, stage, -1, null, string.Empty, $"expected a list of steps, found {Describe(steps)}");
        }

        var result = new List<StageStep>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject step)
            {
                throw new InvalidStageException(source, stage, i, null, string.Empty, $"expected a step (a map), found {Describe(array[i])}");
            }

            result.Add(new StepReader(source, stage, i, step, warnings).Read());
        }

        return result;
    }

    internal static string Describe(JsonNode? node) => node switch
    {
        null => "nothing (null)",
        JsonObject => "a map",
        JsonArray => "a list",
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => $"the text \"{value.GetValue<string>()}\"",
            JsonValueKind.Number => $"the number {value.ToJsonString()}",
            JsonValueKind.True or JsonValueKind.False => $"the boolean {value.ToJsonString()}",
            _ => value.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };

    /// <summary>Walks one step, carrying where it is so every error can say so.</summary>
    private sealed class StepReader(string source, string stage, int index, JsonObject step, ICollection<string> warnings)
    {
        private string? _name;

        public StageStep Read()
        {
            _name = OptionalString(step["name"], "name");
            foreach (var (key, _) in step)
            {
                if (Unsupported.Contains(key))
                {
                    warnings.Add($"{source}: stage '{stage}' step {index}: '{key}' is not supported by Basalt and is ignored");
                }
                else if (!Known.Contains(key))
                {
                    warnings.Add($"{source}: stage '{stage}' step {index}: unknown key '{key}' is ignored");
                }
            }

            return new StageStep
            {
                Name = _name,
                Index = index,
                If = OptionalString(step["if"], "if"),
                OnlyOs = OptionalString(step["only_os"], "only_os"),
                OnlyOsVersion = OptionalString(step["only_os_version"], "only_os_version"),
                OnlyArch = OptionalString(step["only_arch"], "only_arch"),
                Node = OptionalString(step["node"], "node"),
                IfFiles = ReadIfFiles(step["if_files"]),
                After = ReadAfter(step["after"]),
                Commands = StringList(step["commands"], "commands"),
                Files = ReadList(step["files"], "files", ReadFile),
                Directories = ReadList(step["directories"], "directories", ReadDirectory),
                Downloads = ReadList(step["downloads"], "downloads", ReadDownload),
                Users = ReadUsers(step["users"]),
                AuthorizedKeys = ReadAuthorizedKeys(step["authorized_keys"]),
                Hostname = OptionalString(step["hostname"], "hostname"),
                Dns = ReadDns(step["dns"]),
                Sysctl = StringMap(step["sysctl"], "sysctl"),
                Modules = StringList(step["modules"], "modules"),
                Systemctl = ReadSystemctl(step["systemctl"]),
                Environment = StringMap(step["environment"], "environment"),
                EnvironmentFile = OptionalString(step["environment_file"], "environment_file"),
                Timesyncd = StringMap(step["timesyncd"], "timesyncd"),
                Layout = ReadLayout(step["layout"]),
            };
        }

        private InvalidStageException Error(string field, string problem) =>
            new(source, stage, index, _name, field, problem);

        private string? OptionalString(JsonNode? node, string field)
        {
            if (node is null)
            {
                return null;
            }

            if (node is JsonValue value)
            {
                switch (value.GetValueKind())
                {
                    case JsonValueKind.String:
                        return value.GetValue<string>();
                    case JsonValueKind.Number:
                    case JsonValueKind.True:
                    case JsonValueKind.False:
                        return value.ToJsonString();
                }
            }

            throw Error(field, $"expected text, found {Describe(node)}");
        }

        private string RequiredString(JsonNode? node, string field) =>
            OptionalString(node, field) is { Length: > 0 } text ? text : throw Error(field, "is required and must not be empty");

        private bool Bool(JsonNode? node, string field)
        {
            if (node is null)
            {
                return false;
            }

            if (node is JsonValue value)
            {
                switch (value.GetValueKind())
                {
                    case JsonValueKind.True:
                        return true;
                    case JsonValueKind.False:
                        return false;
                    case JsonValueKind.String when bool.TryParse(value.GetValue<string>(), out var parsed):
                        return parsed;
                }
            }

            throw Error(field, $"expected true or false, found {Describe(node)}");
        }

        private long? OptionalLong(JsonNode? node, string field)
        {
            if (node is null)
            {
                return null;
            }

            if (node is JsonValue value)
            {
                if (value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<long>(out var number))
                {
                    return number;
                }

                if (value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<double>(out var real) && real == Math.Floor(real) && Math.Abs(real) < long.MaxValue)
                {
                    return (long)real;
                }

                if (value.GetValueKind() == JsonValueKind.String
                    && long.TryParse(value.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }
            }

            throw Error(field, $"expected a whole number, found {Describe(node)}");
        }

        private int Id(JsonNode? node, string field)
        {
            var value = OptionalLong(node, field) ?? 0;
            return value is >= 0 and <= int.MaxValue ? (int)value : throw Error(field, $"expected a user or group id (0 or more), found {value}");
        }

        /// <summary>
        /// A number is the mode itself (YAML's <c>0644</c> is octal and arrives as 420); text is read
        /// as octal ("0644", "644", "0o644"), as cloud-init's write_files writes it.
        /// </summary>
        private UnixFileMode? Mode(JsonNode? node, string field)
        {
            if (node is null)
            {
                return null;
            }

            long mode;
            if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
            {
                var text = value.GetValue<string>().Trim();
                if (text.StartsWith("0o", StringComparison.OrdinalIgnoreCase))
                {
                    text = text[2..];
                }

                if (text.Length == 0 || text.Length > 5 || !text.All(c => c is >= '0' and <= '7'))
                {
                    throw Error(field, $"expected an octal mode such as 0644, found \"{value.GetValue<string>()}\"");
                }

                mode = Convert.ToInt64(text, 8);
            }
            else
            {
                mode = OptionalLong(node, field) ?? 0;
            }

            return mode is >= 0 and <= 0xFFF ? (UnixFileMode)mode : throw Error(field, $"mode {mode} is out of range (0 to 07777)");
        }

        private List<string> StringList(JsonNode? node, string field)
        {
            switch (node)
            {
                case null:
                    return [];
                case JsonArray array:
                    var list = new List<string>(array.Count);
                    for (var i = 0; i < array.Count; i++)
                    {
                        list.Add(OptionalString(array[i], $"{field}[{i}]") ?? throw Error($"{field}[{i}]", "must not be null"));
                    }

                    return list;
                case JsonValue when OptionalString(node, field) is { } single:
                    // yip accepts only lists; a lone string is what the user meant, so take it.
                    return [single];
                default:
                    throw Error(field, $"expected a list of text, found {Describe(node)}");
            }
        }

        private List<KeyValuePair<string, string>> StringMap(JsonNode? node, string field)
        {
            if (node is null)
            {
                return [];
            }

            if (node is not JsonObject map)
            {
                throw Error(field, $"expected a map of name to value, found {Describe(node)}");
            }

            return map.Select(entry => KeyValuePair.Create(entry.Key, OptionalString(entry.Value, $"{field}.{entry.Key}") ?? string.Empty)).ToList();
        }

        private List<T> ReadList<T>(JsonNode? node, string field, Func<JsonObject, string, T> read)
        {
            if (node is null)
            {
                return [];
            }

            if (node is not JsonArray array)
            {
                throw Error(field, $"expected a list, found {Describe(node)}");
            }

            var list = new List<T>(array.Count);
            for (var i = 0; i < array.Count; i++)
            {
                var path = $"{field}[{i}]";
                list.Add(array[i] is JsonObject item ? read(item, path) : throw Error(path, $"expected a map, found {Describe(array[i])}"));
            }

            return list;
        }

        private (string? Name, int Owner) OwnerOf(JsonObject item, string path)
        {
            // cloud-init writes owner: "user:group"; yip writes owner: 1000 or owner_string: "user:group".
            var ownerString = OptionalString(item["owner_string"], path + ".owner_string") ?? OptionalString(item["ownerstring"], path + ".ownerstring");
            if (item["owner"] is JsonValue owner && owner.GetValueKind() == JsonValueKind.String
                && !int.TryParse(owner.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                return (ownerString ?? owner.GetValue<string>(), 0);
            }

            return (ownerString, Id(item["owner"], path + ".owner"));
        }

        private StageFile ReadFile(JsonObject item, string path)
        {
            var (ownerName, owner) = OwnerOf(item, path);
            var encoding = OptionalString(item["encoding"], path + ".encoding")?.Trim().ToLowerInvariant() switch
            {
                null or "" or "text/plain" => FileEncoding.Plain,
                "b64" or "base64" => FileEncoding.Base64,
                "gz" or "gzip" => FileEncoding.Gzip,
                "gz+base64" or "gzip+base64" or "gz+b64" or "gzip+b64" => FileEncoding.GzipBase64,
                var other => throw Error(path + ".encoding", $"unknown encoding '{other}'; expected base64, b64, gzip, gz, or gzip+base64"),
            };
            return new StageFile(RequiredString(item["path"], path + ".path"), OptionalString(item["content"], path + ".content") ?? string.Empty)
            {
                Encoding = encoding,
                Permissions = Mode(item["permissions"], path + ".permissions"),
                Owner = owner,
                Group = Id(item["group"], path + ".group"),
                OwnerName = ownerName,
            };
        }

        private StageDirectory ReadDirectory(JsonObject item, string path) =>
            new(RequiredString(item["path"], path + ".path"))
            {
                Permissions = Mode(item["permissions"], path + ".permissions"),
                Owner = Id(item["owner"], path + ".owner"),
                Group = Id(item["group"], path + ".group"),
            };

        private StageDownload ReadDownload(JsonObject item, string path)
        {
            var (ownerName, owner) = OwnerOf(item, path);
            var url = RequiredString(item["url"], path + ".url");
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw Error(path + ".url", $"'{url}' is not an http or https URL");
            }

            var timeout = OptionalLong(item["timeout"], path + ".timeout") ?? 0;
            return new StageDownload(url, RequiredString(item["path"], path + ".path"))
            {
                Permissions = Mode(item["permissions"], path + ".permissions"),
                Owner = owner,
                Group = Id(item["group"], path + ".group"),
                OwnerName = ownerName,
                TimeoutSeconds = timeout is >= 0 and <= int.MaxValue ? (int)timeout : throw Error(path + ".timeout", "must be 0 or more seconds"),
            };
        }

        private List<StageUser> ReadUsers(JsonNode? node)
        {
            switch (node)
            {
                case null:
                    return [];
                case JsonObject map:
                    return map.Select(entry => ReadUser(entry.Key, entry.Value, $"users.{entry.Key}"))
                        .OrderBy(user => user.Name, StringComparer.Ordinal).ToList();
                case JsonArray array:
                    // cloud-init style: a list of users with a name each.
                    var users = new List<StageUser>();
                    for (var i = 0; i < array.Count; i++)
                    {
                        var path = $"users[{i}]";
                        var item = array[i] as JsonObject ?? throw Error(path, $"expected a user (a map), found {Describe(array[i])}");
                        users.Add(ReadUser(RequiredString(item["name"], path + ".name"), item, path));
                    }

                    return users.OrderBy(user => user.Name, StringComparer.Ordinal).ToList();
                default:
                    throw Error("users", $"expected a map of user name to settings, found {Describe(node)}");
            }
        }

        internal StageUser ReadUser(string name, JsonNode? node, string path)
        {
            if (!IsValidAccountName(name))
            {
                throw Error(path, $"'{name}' is not a valid user name (letters, digits, '_', '-', '.', not starting with '-')");
            }

            if (node is null)
            {
                return new StageUser(name);
            }

            var item = node as JsonObject ?? throw Error(path, $"expected the user's settings (a map), found {Describe(node)}");
            var uid = OptionalLong(item["uid"], path + ".uid");
            return new StageUser(name)
            {
                Password = OptionalString(item["passwd"], path + ".passwd") ?? OptionalString(item["password"], path + ".password"),
                Gecos = OptionalString(item["gecos"], path + ".gecos"),
                Homedir = OptionalString(item["homedir"], path + ".homedir"),
                NoCreateHome = Bool(item["no_create_home"] ?? item["no-create-home"], path + ".no_create_home"),
                PrimaryGroup = OptionalString(item["primary_group"] ?? item["primary-group"], path + ".primary_group"),
                Groups = StringList(item["groups"], path + ".groups"),
                NoUserGroup = Bool(item["no_user_group"] ?? item["no-user-group"], path + ".no_user_group"),
                System = Bool(item["system"], path + ".system"),
                Shell = OptionalString(item["shell"], path + ".shell"),
                LockPassword = Bool(item["lock_passwd"], path + ".lock_passwd"),
                Uid = uid is null ? null : uid is >= 0 and <= int.MaxValue ? (int)uid : throw Error(path + ".uid", "must be 0 or more"),
                SshAuthorizedKeys = StringList(item["ssh_authorized_keys"] ?? item["ssh-authorized-keys"], path + ".ssh_authorized_keys"),
            };
        }

        private List<KeyValuePair<string, IReadOnlyList<string>>> ReadAuthorizedKeys(JsonNode? node)
        {
            if (node is null)
            {
                return [];
            }

            if (node is not JsonObject map)
            {
                throw Error("authorized_keys", $"expected a map of user name to a list of keys, found {Describe(node)}");
            }

            return map.Select(entry => KeyValuePair.Create(entry.Key, (IReadOnlyList<string>)StringList(entry.Value, $"authorized_keys.{entry.Key}"))).ToList();
        }

        private StageDns? ReadDns(JsonNode? node)
        {
            if (node is null)
            {
                return null;
            }

            var item = node as JsonObject ?? throw Error("dns", $"expected a map with nameservers, search, options, path; found {Describe(node)}");
            return new StageDns(StringList(item["nameservers"], "dns.nameservers"), StringList(item["search"], "dns.search"), StringList(item["options"], "dns.options"))
            {
                Path = OptionalString(item["path"], "dns.path"),
            };
        }

        private StageSystemctl? ReadSystemctl(JsonNode? node)
        {
            if (node is null)
            {
                return null;
            }

            var item = node as JsonObject ?? throw Error("systemctl", $"expected a map with enable, disable, mask, start, overrides; found {Describe(node)}");
            var overrides = ReadList(item["overrides"], "systemctl.overrides", (entry, path) =>
                new SystemdOverride(RequiredString(entry["service"], path + ".service"), OptionalString(entry["content"], path + ".content") ?? string.Empty, OptionalString(entry["name"], path + ".name")));
            return new StageSystemctl(
                StringList(item["enable"], "systemctl.enable"),
                StringList(item["disable"], "systemctl.disable"),
                StringList(item["mask"], "systemctl.mask"),
                StringList(item["start"], "systemctl.start"),
                overrides);
        }

        private IfFilesCondition? ReadIfFiles(JsonNode? node)
        {
            if (node is null)
            {
                return null;
            }

            var item = node as JsonObject ?? throw Error("if_files", $"expected a map with any, all, none; found {Describe(node)}");
            foreach (var (key, _) in item)
            {
                if (key is not ("any" or "all" or "none"))
                {
                    throw Error("if_files", $"unknown check '{key}'; expected any, all or none");
                }
            }

            return new IfFilesCondition(StringList(item["any"], "if_files.any"), StringList(item["all"], "if_files.all"), StringList(item["none"], "if_files.none"));
        }

        private List<string> ReadAfter(JsonNode? node)
        {
            if (node is null)
            {
                return [];
            }

            if (node is not JsonArray array)
            {
                throw Error("after", $"expected a list of {{ name: STEP }}, found {Describe(node)}");
            }

            var names = new List<string>(array.Count);
            for (var i = 0; i < array.Count; i++)
            {
                var path = $"after[{i}]";
                names.Add(array[i] is JsonObject dependency
                    ? RequiredString(dependency["name"], path + ".name")
                    : RequiredString(array[i], path));
            }

            return names;
        }

        private StageLayout? ReadLayout(JsonNode? node)
        {
            if (node is null)
            {
                return null;
            }

            var item = node as JsonObject ?? throw Error("layout", $"expected a map with device, expand_partition, add_partitions; found {Describe(node)}");
            var device = item["device"] as JsonObject ?? throw Error("layout.device", "is required: give a label or a path");
            var label = OptionalString(device["label"], "layout.device.label");
            var devicePath = OptionalString(device["path"], "layout.device.path");
            if (string.IsNullOrEmpty(label) && string.IsNullOrEmpty(devicePath))
            {
                throw Error("layout.device", "give a label or a path");
            }

            LayoutExpand? expand = null;
            if (item["expand_partition"] is { } expandNode)
            {
                var expandItem = expandNode as JsonObject ?? throw Error("layout.expand_partition", $"expected a map with size, found {Describe(expandNode)}");
                expand = new LayoutExpand(NonNegative(expandItem["size"], "layout.expand_partition.size"));
            }

            var partitions = ReadList(item["add_partitions"], "layout.add_partitions", (entry, path) => new LayoutPartition(NonNegative(entry["size"], path + ".size"))
            {
                FileSystemLabel = OptionalString(entry["fsLabel"], path + ".fsLabel"),
                PartitionLabel = OptionalString(entry["pLabel"], path + ".pLabel"),
                FileSystem = NormalizeFileSystem(OptionalString(entry["filesystem"], path + ".filesystem"), path + ".filesystem"),
                Bootable = Bool(entry["bootable"], path + ".bootable"),
            });
            return new StageLayout(new LayoutDevice(label, devicePath) { InitDisk = Bool(device["init_disk"], "layout.device.init_disk") }, expand, partitions);
        }

        private long NonNegative(JsonNode? node, string field)
        {
            var value = OptionalLong(node, field) ?? 0;
            return value >= 0 ? value : throw Error(field, "must be 0 (all free space) or a size in MiB");
        }

        private string NormalizeFileSystem(string? fileSystem, string field) => fileSystem?.Trim().ToLowerInvariant() switch
        {
            null or "" => "ext2",
            "ext2" or "ext3" or "ext4" or "xfs" or "btrfs" or "swap" => fileSystem.Trim().ToLowerInvariant(),
            "fat" or "vfat" or "fat16" or "fat32" => fileSystem.Trim().ToLowerInvariant(),
            "noformat" or "-" or "none" => "noformat",
            var other => throw Error(field, $"unknown filesystem '{other}'; expected ext2, ext3, ext4, xfs, btrfs, vfat, fat16, fat32, swap or noformat"),
        };
    }

    internal static bool IsValidAccountName(string name) =>
        name.Length is > 0 and <= 32 && name[0] != '-'
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' || (c == '$' && name[^1] == '$'));
}
