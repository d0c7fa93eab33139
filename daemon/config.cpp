#include "config.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <shmbus/config/toml_reader.hpp>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/format/geometry.hpp>
#include <shmbus/detail/util/topic_name.hpp>
#include <shmbus/error.hpp>
#include <sstream>

#include "config_values.hpp"

namespace shmbusd {
namespace {

constexpr std::string_view kBuiltIn = "built-in defaults";
// The smallest segment worth having: a header and a few entries.
constexpr std::uint64_t kMinSegmentSize = 64 * 1024;

/// Walks one parsed document, checking each table's keys and turning each value into ours.
/// Every error names the place in the file and the key.
class Reader : public shmbus::config::TomlReader {
  public:
    using TomlReader::TomlReader;

    std::uint64_t size(const toml::node& node, const std::string& name) const {
        if (node.is_integer()) {
            return static_cast<std::uint64_t>(
                integer(node, name, 0, std::numeric_limits<std::int64_t>::max()));
        }
        if (!node.is_string()) fail(node.source(), name + " must be a size, such as \"1MiB\"");
        auto parsed = parse_size(node.as_string()->get());
        if (auto* problem = std::get_if<std::string>(&parsed))
            fail(node.source(), name + ": " + *problem);
        return std::get<std::uint64_t>(parsed);
    }

    std::uint32_t size32(const toml::node& node, const std::string& name) const {
        const std::uint64_t value = size(node, name);
        if (value > std::numeric_limits<std::uint32_t>::max()) {
            fail(node.source(), name + " is " + format_size(value) + ", more than 4 GiB");
        }
        return static_cast<std::uint32_t>(value);
    }

    Milliseconds duration(const toml::node& node, const std::string& name) const {
        if (!node.is_string()) {
            fail(node.source(), name + " must be a duration string with a unit, such as \"2s\"");
        }
        auto parsed = parse_duration(node.as_string()->get());
        if (auto* problem = std::get_if<std::string>(&parsed))
            fail(node.source(), name + ": " + *problem);
        return std::get<Milliseconds>(parsed);
    }

    mode_t mode(const toml::node& node, const std::string& name) const {
        if (node.is_integer()) {
            // 0o660 is a mode; 660 is the decimal number 660, almost certainly a slip.
            const auto& value = *node.as_integer();
            if ((value.flags() & toml::value_flags::format_as_octal) == toml::value_flags::none) {
                fail(node.source(), name + " = " + std::to_string(value.get()) +
                                        " is decimal; write modes as strings (\"0660\") or TOML "
                                        "octal (0o660)");
            }
            if (value.get() < 0 || value.get() > 0777) {
                fail(node.source(), name + " must be at most 0o777");
            }
            return static_cast<mode_t>(value.get());
        }
        if (!node.is_string())
            fail(node.source(), name + " must be a mode string, such as \"0660\"");
        auto parsed = parse_mode(node.as_string()->get());
        if (auto* problem = std::get_if<std::string>(&parsed))
            fail(node.source(), name + ": " + *problem);
        return std::get<mode_t>(parsed);
    }

    /// A user by name ("shmbus") or id (1000). An empty name means "the daemon's own".
    std::optional<uid_t> user(const toml::node& node, const std::string& name) const {
        if (node.is_integer()) {
            return static_cast<uid_t>(
                integer(node, name, 0, std::numeric_limits<std::int32_t>::max()));
        }
        const std::string text = string(node, name);
        if (text.empty()) return std::nullopt;
        if (auto uid = lookup_user(text)) return uid;
        fail(node.source(), name + ": there is no user '" + text + "' on this system");
    }

    std::optional<gid_t> group(const toml::node& node, const std::string& name) const {
        if (node.is_integer()) {
            return static_cast<gid_t>(
                integer(node, name, 0, std::numeric_limits<std::int32_t>::max()));
        }
        const std::string text = string(node, name);
        if (text.empty()) return std::nullopt;
        if (auto gid = lookup_group(text)) return gid;
        fail(node.source(), name + ": there is no group '" + text + "' on this system");
    }
};

void read_access(const Reader& reader, const toml::table& parent, std::string_view key,
                 const std::string& where, AccessRule& rule) {
    const std::string name = where + "." + std::string(key);
    const toml::table* table = reader.table(parent, key, name);
    if (table == nullptr) return;
    reader.only_keys(*table, name, {"owner", "group", "mode"});
    if (const auto* node = table->get("owner")) rule.owner = reader.user(*node, name + ".owner");
    if (const auto* node = table->get("group")) rule.group = reader.group(*node, name + ".group");
    if (const auto* node = table->get("mode")) {
        rule.mode = reader.mode(*node, name + ".mode");
        if ((rule.mode & 0600) != 0600) {
            reader.fail(node->source(), name + ".mode " + format_mode(rule.mode) +
                                            " does not let the owner read and write the file; "
                                            "the daemon and every client need that");
        }
        if ((rule.mode & 0111) != 0) {
            reader.fail(node->source(), name + ".mode " + format_mode(rule.mode) +
                                            " makes the file executable; topic files are data");
        }
    }
}

/// Reads [topics.NAME.archive]: where and how shmbusd records the topic.
ArchiveSettings read_archive(const Reader& reader, const toml::table& table,
                             const std::string& name) {
    reader.only_keys(table, name,
                     {"directory", "segment_size", "retain_bytes", "retain_age", "sync"});
    ArchiveSettings archive;
    const toml::node* directory = table.get("directory");
    if (directory == nullptr) {
        reader.fail(table.source(), name + " needs a directory (the archive's, one per topic)");
    }
    const std::string path = reader.string(*directory, name + ".directory");
    if (path.empty() || path.front() != '/') {
        reader.fail(directory->source(), name + ".directory '" + path +
                                             "' must be an absolute path (the recorder does not "
                                             "run in the configuration's directory)");
    }
    archive.directory = std::filesystem::path(path).lexically_normal();
    if (!archive.directory.has_filename() && archive.directory.has_relative_path()) {
        archive.directory = archive.directory.parent_path();  // "/a/b/" is "/a/b"
    }
    if (const auto* node = table.get("segment_size")) {
        archive.segment_size = reader.size(*node, name + ".segment_size");
        if (archive.segment_size < kMinSegmentSize) {
            reader.fail(node->source(),
                        name + ".segment_size is " + format_size(archive.segment_size) +
                            "; it must be at least " + format_size(kMinSegmentSize));
        }
    }
    if (const auto* node = table.get("retain_bytes")) {
        archive.retain_bytes = reader.size(*node, name + ".retain_bytes");
        if (*archive.retain_bytes == 0) {
            reader.fail(node->source(), name +
                                            ".retain_bytes is 0; leave it out to keep every "
                                            "segment");
        }
    }
    if (const auto* node = table.get("retain_age")) {
        const Milliseconds age = reader.duration(*node, name + ".retain_age");
        if (age < Milliseconds(1'000) || age % Milliseconds(1'000) != Milliseconds(0)) {
            reader.fail(node->source(), name + ".retain_age is " + format_duration(age) +
                                            "; it must be a whole number of seconds, at least 1s");
        }
        archive.retain_age = std::chrono::duration_cast<std::chrono::seconds>(age);
    }
    if (const auto* node = table.get("sync")) {
        const std::string sync = reader.string(*node, name + ".sync");
        if (sync == "none") {
            archive.sync_always = false;
        } else if (sync == "always") {
            archive.sync_always = true;
        } else {
            reader.fail(node->source(), name + ".sync is '" + sync +
                                            "'; it must be \"none\" (the page cache) or "
                                            "\"always\" (fdatasync after each batch)");
        }
    }
    return archive;
}

/// Reads the topic keys of `table` over `settings` (which holds the inherited values).
/// `topic`: a [topics.NAME] table, the only place an archive table may be.
void read_topic(const Reader& reader, const toml::table& table, const std::string& where,
                TopicSettings& settings, bool topic) {
    reader.only_keys(table, where,
                     {"capacity", "max_record_size", "max_publishers", "max_subscribers", "policy",
                      "timestamps", "fenced_commits", "slow_subscriber", "evict_after", "sync",
                      "sync_interval", "publishers", "subscribers", "archive"});
    if (const auto* node = table.get("capacity")) {
        settings.capacity = reader.size(*node, where + ".capacity");
    }
    if (const auto* node = table.get("max_record_size")) {
        settings.max_record_size = reader.size32(*node, where + ".max_record_size");
    }
    if (const auto* node = table.get("max_publishers")) {
        settings.max_publishers = static_cast<std::uint32_t>(
            reader.integer(*node, where + ".max_publishers", 1, shmbus::format::kMaxPublishers));
    }
    if (const auto* node = table.get("max_subscribers")) {
        settings.max_subscribers = static_cast<std::uint32_t>(
            reader.integer(*node, where + ".max_subscribers", 1, shmbus::format::kMaxSubscribers));
    }
    if (const auto* node = table.get("policy")) {
        const std::string policy = reader.string(*node, where + ".policy");
        if (policy == "block") {
            settings.policy = shmbus::Policy::kBlock;
        } else if (policy == "overwrite") {
            settings.policy = shmbus::Policy::kOverwrite;
        } else {
            reader.fail(node->source(), where + ".policy is '" + policy +
                                            "'; it must be \"block\" (lossless) or \"overwrite\"");
        }
    }
    if (const auto* node = table.get("timestamps")) {
        settings.timestamps = reader.boolean(*node, where + ".timestamps");
    }
    if (const auto* node = table.get("fenced_commits")) {
        settings.fenced_commits = reader.boolean(*node, where + ".fenced_commits");
    }
    if (const auto* node = table.get("slow_subscriber")) {
        const std::string action = reader.string(*node, where + ".slow_subscriber");
        if (action == "wait") {
            settings.slow_subscriber.action = SlowSubscriberAction::kWait;
        } else if (action == "evict") {
            settings.slow_subscriber.action = SlowSubscriberAction::kEvict;
        } else {
            reader.fail(node->source(), where + ".slow_subscriber is '" + action +
                                            "'; it must be \"wait\" or \"evict\"");
        }
    }
    if (const auto* node = table.get("evict_after")) {
        settings.slow_subscriber.evict_after = reader.duration(*node, where + ".evict_after");
    }
    if (const auto* node = table.get("sync")) {
        const std::string policy = reader.string(*node, where + ".sync");
        if (policy == "none") {
            settings.sync.policy = SyncPolicy::kNone;
        } else if (policy == "interval") {
            settings.sync.policy = SyncPolicy::kInterval;
        } else {
            reader.fail(node->source(), where + ".sync is '" + policy +
                                            "'; it must be \"none\" or \"interval\" (publishers "
                                            "flush on demand under either)");
        }
    }
    if (const auto* node = table.get("sync_interval")) {
        settings.sync.interval = reader.duration(*node, where + ".sync_interval");
    }
    read_access(reader, table, "publishers", where, settings.publishers);
    read_access(reader, table, "subscribers", where, settings.subscribers);
    const std::string archive_name = where.substr(0, where.size() - 1) + ".archive]";
    if (const toml::table* archive = reader.table(table, "archive", archive_name)) {
        if (!topic) {
            reader.fail(archive->source(), archive_name +
                                               ": recording is configured per topic, in "
                                               "[topics.NAME.archive] (an archive directory "
                                               "holds one topic)");
        }
        settings.archive = read_archive(reader, *archive, archive_name);
    }
}

/// The checks that need a whole topic's settings, and the warnings about access that works only
/// if the operator's groups are arranged in a particular way.
void check_topic(const Reader& reader, const toml::source_region& where, const std::string& name,
                 const TopicSettings& settings, const Config& config,
                 std::vector<std::string>& warnings) {
    shmbus::format::TopicParameters parameters;
    parameters.capacity = settings.capacity;
    parameters.max_record_size = settings.max_record_size;
    parameters.max_publishers = settings.max_publishers;
    parameters.max_subscribers = settings.max_subscribers;
    parameters.policy = settings.policy;
    parameters.flags = (settings.timestamps ? shmbus::format::kFlagTimestamps : 0u) |
                       (settings.fenced_commits ? shmbus::format::kFlagFencedCommits : 0u);
    if (auto problem = shmbus::format::check_parameters(parameters)) {
        reader.fail(where, name + ": " + *problem);
    }
    if (settings.slow_subscriber.action == SlowSubscriberAction::kEvict) {
        if (settings.policy == shmbus::Policy::kOverwrite) {
            warnings.push_back(name +
                               ": slow_subscriber = \"evict\" has no effect on an overwrite topic "
                               "(its publishers never wait for subscribers)");
        }
        if (settings.slow_subscriber.evict_after < 2 * config.check_interval) {
            reader.fail(where, name + ": evict_after (" +
                                   format_duration(settings.slow_subscriber.evict_after) +
                                   ") must be at least two check intervals (2 x " +
                                   format_duration(config.check_interval) +
                                   "): the daemon sees a stall only at its checks");
        }
    }
    if (settings.sync.policy == SyncPolicy::kInterval &&
        settings.sync.interval < config.check_interval) {
        reader.fail(where, name + ": sync_interval (" + format_duration(settings.sync.interval) +
                               ") must be at least one check interval (" +
                               format_duration(config.check_interval) +
                               "): the daemon writes topics back at its checks");
    }
    const AccessRule& records = settings.publishers;
    const AccessRule& state = settings.subscribers;
    if (records.group && state.group && *records.group != *state.group &&
        (records.mode & 0004) == 0) {
        warnings.push_back(name + ": subscribers in group " + describe_group(*state.group) +
                           " can read the records file only if they are also in group " +
                           describe_group(*records.group) +
                           " or publishers.mode grants others "
                           "read (e.g. \"0664\"; the topic directory keeps other users out)");
    }
    if (records.group && !state.group) {
        warnings.push_back(name +
                           ": publishers.group is set but subscribers.group is not; the "
                           "topic directory then belongs to the daemon's own group, and "
                           "publishers must be members of it to reach the topic");
    }
    if ((state.mode & 0066) == 0 && (records.mode & 0066) != 0) {
        warnings.push_back(name + ": subscribers.mode " + format_mode(state.mode) +
                           " gives nobody but the owner access to the state file, so only the "
                           "owner can use the topic whatever publishers.mode says");
    }
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw shmbus::system_error("reading configuration " + path.string());
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw shmbus::system_error("reading configuration " + path.string());
    return text.str();
}

}  // namespace

std::filesystem::path default_recorder_command() {
    return SHMBUSD_RECORDER_COMMAND;
}

const TopicSettings& Config::settings_for(std::string_view name) const {
    const auto it = topics.find(name);
    return it == topics.end() ? defaults : it->second;
}

Config parse_config(std::string_view text, const std::string& origin) {
    const toml::table document = shmbus::config::parse_toml(text, origin);
    const Reader reader(origin);
    Config config;
    config.origin = origin;
    config.directory = shmbus::default_bus_directory();
    reader.only_keys(document, "the configuration",
                     {"bus", "supervision", "control", "defaults", "topics"});

    if (const toml::table* bus = reader.table(document, "bus", "[bus]")) {
        reader.only_keys(*bus, "[bus]", {"directory", "log_level"});
        if (const auto* node = bus->get("directory")) {
            const std::string directory = reader.string(*node, "bus.directory");
            if (directory.empty()) reader.fail(node->source(), "bus.directory is empty");
            config.directory = directory;
        }
        if (const auto* node = bus->get("log_level")) {
            auto parsed = parse_log_level(reader.string(*node, "bus.log_level"));
            if (auto* problem = std::get_if<std::string>(&parsed)) {
                reader.fail(node->source(), "bus.log_level: " + *problem);
            }
            config.log_level = std::get<spdlog::level::level_enum>(parsed);
        }
    }

    toml::source_region supervision_place;
    if (const toml::table* supervision = reader.table(document, "supervision", "[supervision]")) {
        supervision_place = supervision->source();
        reader.only_keys(*supervision, "[supervision]",
                         {"check_interval", "unblock_timeout", "recorder_command"});
        if (const auto* node = supervision->get("recorder_command")) {
            const std::string command = reader.string(*node, "supervision.recorder_command");
            if (command.empty() || command.front() != '/') {
                reader.fail(node->source(), "supervision.recorder_command '" + command +
                                                "' must be the absolute path of the shmbus CLI");
            }
            config.recorder_command = command;
        }
        if (const auto* node = supervision->get("check_interval")) {
            config.check_interval = reader.duration(*node, "supervision.check_interval");
            if (config.check_interval < Milliseconds(10) ||
                config.check_interval > Milliseconds(60'000)) {
                reader.fail(node->source(),
                            "supervision.check_interval must be between 10ms and 60s");
            }
        }
        if (const auto* node = supervision->get("unblock_timeout")) {
            config.unblock_timeout = reader.duration(*node, "supervision.unblock_timeout");
        }
    }
    if (config.unblock_timeout < 2 * config.check_interval) {
        reader.fail(supervision_place,
                    "supervision.unblock_timeout (" + format_duration(config.unblock_timeout) +
                        ") must be at least two check intervals (2 x " +
                        format_duration(config.check_interval) +
                        "): it is the longest a dead publisher may hold a topic, and the daemon "
                        "looks once per check interval");
    }

    if (const toml::table* control = reader.table(document, "control", "[control]")) {
        reader.only_keys(*control, "[control]",
                         {"allow_users", "allow_groups", "max_capacity", "max_topics"});
        for (const auto key : {std::string_view("allow_users"), std::string_view("allow_groups")}) {
            const toml::node* node = control->get(key);
            if (node == nullptr) continue;
            const std::string name = "control." + std::string(key);
            if (!node->is_array()) reader.fail(node->source(), name + " must be an array of names");
            for (const toml::node& entry : *node->as_array()) {
                const bool users = key == "allow_users";
                if (entry.is_integer()) {
                    const auto id = static_cast<std::uint32_t>(
                        reader.integer(entry, name, 0, std::numeric_limits<std::int32_t>::max()));
                    if (users) {
                        config.creation.users.push_back(id);
                    } else {
                        config.creation.groups.push_back(id);
                    }
                    continue;
                }
                const std::string entry_name = reader.string(entry, name + " entry");
                // An unknown name here grants nothing, so it is a warning, not an error: the
                // packaged configuration names the group the package creates.
                if (users) {
                    if (auto uid = lookup_user(entry_name)) {
                        config.creation.users.push_back(*uid);
                    } else {
                        config.warnings.push_back(name + ": there is no user '" + entry_name + "'");
                    }
                } else {
                    if (auto gid = lookup_group(entry_name)) {
                        config.creation.groups.push_back(*gid);
                    } else {
                        config.warnings.push_back(name + ": there is no group '" + entry_name +
                                                  "'");
                    }
                }
            }
        }
        if (const auto* node = control->get("max_capacity")) {
            config.creation.max_capacity = reader.size(*node, "control.max_capacity");
        }
        if (const auto* node = control->get("max_topics")) {
            config.creation.max_topics = static_cast<std::uint32_t>(
                reader.integer(*node, "control.max_topics", 0, 1'000'000));
        }
    }

    toml::source_region defaults_place;
    if (const toml::table* defaults = reader.table(document, "defaults", "[defaults]")) {
        defaults_place = defaults->source();
        read_topic(reader, *defaults, "[defaults]", config.defaults, false);
    }
    check_topic(reader, defaults_place, "[defaults]", config.defaults, config, config.warnings);

    if (const toml::table* topics = reader.table(document, "topics", "[topics]")) {
        for (auto&& [key, node] : *topics) {
            const std::string name(key.str());
            const std::string where = "[topics." + name + "]";
            if (auto problem = shmbus::topic_name_problem(name)) {
                reader.fail(key.source(), where + ": " + *problem);
            }
            if (!node.is_table()) reader.fail(node.source(), where + " must be a table");
            TopicSettings settings = config.defaults;
            read_topic(reader, *node.as_table(), where, settings, true);
            check_topic(reader, node.source(), where, settings, config, config.warnings);
            if (settings.archive) {
                for (const auto& [other, other_settings] : config.topics) {
                    if (other_settings.archive &&
                        other_settings.archive->directory == settings.archive->directory) {
                        reader.fail(node.as_table()->get("archive")->source(),
                                    where + ": archive.directory " +
                                        settings.archive->directory.string() + " is topic '" +
                                        other + "'s archive already; an archive holds one topic");
                    }
                }
            }
            config.topics.emplace(name, settings);
        }
    }
    return config;
}

Config load_config(const std::optional<std::filesystem::path>& path) {
    if (!path) return parse_config("", std::string(kBuiltIn));
    return parse_config(read_file(*path), path->string());
}

mode_t directory_mode(mode_t state_mode) noexcept {
    mode_t mode = 0700;
    if ((state_mode & 0060) != 0) mode |= 0050;
    if ((state_mode & 0006) != 0) mode |= 0005;
    return mode;
}

shmbus::TopicOptions topic_options(const TopicSettings& settings) {
    shmbus::TopicOptions options;
    options.capacity = settings.capacity;
    options.max_record_size = settings.max_record_size;
    options.max_publishers = settings.max_publishers;
    options.max_subscribers = settings.max_subscribers;
    options.policy = settings.policy;
    options.timestamps = settings.timestamps;
    options.fenced_commits = settings.fenced_commits;
    options.records = {settings.publishers.mode, settings.publishers.owner,
                       settings.publishers.group};
    options.state = {settings.subscribers.mode, settings.subscribers.owner,
                     settings.subscribers.group};
    // The directory follows the subscribers' side, spelled out so it never falls back to the
    // records file's owner: whoever may use the state file may enter, nobody else.
    options.directory = {directory_mode(settings.subscribers.mode),
                         settings.subscribers.owner.value_or(::geteuid()),
                         settings.subscribers.group.value_or(::getegid())};
    return options;
}

}  // namespace shmbusd
