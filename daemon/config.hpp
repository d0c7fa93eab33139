// shmbusd's configuration: what it reads from its TOML file (docs/CONFIG.md documents every key),
// fully validated and with every default filled in.
//
// A configuration is a value. The daemon builds a new one on SIGHUP and switches to it only if
// it loaded without error, so a broken edit never takes a running bus down.
#pragma once

#include <spdlog/common.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <shmbus/topic.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace shmbusd {

using Milliseconds = std::chrono::milliseconds;

enum class SlowSubscriberAction : std::uint8_t {
    kWait,   // publishers of a block topic wait for the slowest subscriber, however long
    kEvict,  // a subscriber that stalls publishers for evict_after is evicted
};

struct SlowSubscriberPolicy {
    SlowSubscriberAction action = SlowSubscriberAction::kWait;
    Milliseconds evict_after{10'000};

    friend bool operator==(const SlowSubscriberPolicy&, const SlowSubscriberPolicy&) = default;
};

/// What the daemon does to get a topic's records onto the disk beneath its bus directory
/// (docs/RELIABILITY.md, "Durable topics"). Publishers may also flush on demand, whatever it says.
enum class SyncPolicy : std::uint8_t {
    kNone,      // the kernel writes dirty pages back when it sees fit (about 30 s on Linux)
    kInterval,  // the daemon starts writing the records file back every `interval`
};

struct SyncSettings {
    SyncPolicy policy = SyncPolicy::kNone;
    Milliseconds interval{1'000};

    friend bool operator==(const SyncSettings&, const SyncSettings&) = default;
};

/// Owner, group and mode of the file one side of a topic needs: the records file for
/// publishers, the state file (and the topic directory) for subscribers. Unset owner or group:
/// the daemon's own user or primary group.
struct AccessRule {
    std::optional<uid_t> owner;
    std::optional<gid_t> group;
    mode_t mode = 0660;

    friend bool operator==(const AccessRule&, const AccessRule&) = default;
};

/// [topics.NAME.archive]: shmbusd runs `shmbus record` for the topic into `directory` and
/// supervises it (docs/CONFIG.md, docs/ARCHIVE.md "Recording from shmbusd").
struct ArchiveSettings {
    std::filesystem::path directory;  // absolute; one topic per directory
    std::uint64_t segment_size = std::uint64_t{64} << 20;
    std::optional<std::uint64_t> retain_bytes;
    std::optional<std::chrono::seconds> retain_age;
    bool sync_always = false;  // sync = "always": fdatasync after each batch

    friend bool operator==(const ArchiveSettings&, const ArchiveSettings&) = default;
};

/// Everything the configuration says about one topic.
struct TopicSettings {
    std::uint64_t capacity = std::uint64_t{1} << 20;
    std::uint32_t max_record_size = 64 * 1024;
    std::uint32_t max_publishers = 16;
    std::uint32_t max_subscribers = 64;
    shmbus::Policy policy = shmbus::Policy::kBlock;
    bool timestamps = true;
    bool fenced_commits = false;  // shmbus::TopicOptions::fenced_commits
    SlowSubscriberPolicy slow_subscriber;
    SyncSettings sync;
    AccessRule publishers;                   // the records file
    AccessRule subscribers;                  // the state file and the topic directory
    std::optional<ArchiveSettings> archive;  // [topics.NAME.archive]; never in [defaults]

    friend bool operator==(const TopicSettings&, const TopicSettings&) = default;
};

/// Who may ask the daemon for a topic over the control socket, and how much.
struct CreationRules {
    std::vector<uid_t> users;   // root and the daemon's own user always may
    std::vector<gid_t> groups;  // members (primary or supplementary) may
    std::uint64_t max_capacity = std::uint64_t{256} << 20;
    std::uint32_t max_topics = 1024;  // no dynamic topic once the directory holds this many

    friend bool operator==(const CreationRules&, const CreationRules&) = default;
};

/// The `shmbus` installed beside shmbusd (CMake's ${CMAKE_INSTALL_FULL_BINDIR}/shmbus).
[[nodiscard]] std::filesystem::path default_recorder_command();

struct Config {
    std::string origin;  // the file it came from, or "built-in defaults"
    std::filesystem::path directory;
    spdlog::level::level_enum log_level = spdlog::level::info;
    Milliseconds check_interval{250};
    Milliseconds unblock_timeout{2'000};
    /// The `shmbus` CLI that runs the recorders ([supervision] recorder_command).
    std::filesystem::path recorder_command = default_recorder_command();
    TopicSettings defaults;
    std::map<std::string, TopicSettings, std::less<>> topics;  // [topics.NAME]
    CreationRules creation;
    /// Things worth telling the operator that do not stop the daemon (an allow_groups entry
    /// naming no group, a policy that cannot apply to an overwrite topic, ...).
    std::vector<std::string> warnings;

    /// The settings for topic `name`: its [topics.NAME] table, else the defaults.
    [[nodiscard]] const TopicSettings& settings_for(std::string_view name) const;
};

/// Parses configuration text. `origin` names it in messages. Throws shmbus::Error
/// (kInvalidArgument) whose message starts with "origin:line:column:" where it can.
[[nodiscard]] Config parse_config(std::string_view text, const std::string& origin);

/// Reads and parses the file at `path`, or the built-in defaults if there is none.
[[nodiscard]] Config load_config(const std::optional<std::filesystem::path>& path);

/// The options create_topic needs for a topic with `settings` (owner, group and modes included).
[[nodiscard]] shmbus::TopicOptions topic_options(const TopicSettings& settings);

/// The mode of a topic's directory: search (and list) permission for each class that has any
/// access to the state file. Without access to the state file nobody can use a topic, so the
/// directory is the gate that keeps everyone else out.
[[nodiscard]] mode_t directory_mode(mode_t state_mode) noexcept;

}  // namespace shmbusd
