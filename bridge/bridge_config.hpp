// shmbus-bridge's configuration: a TOML file read once at start (docs/BRIDGE.md).
//
// Reading checks the file's shape only (known keys, types, subjects); whether each topic exists
// is checked against the bus directory when the bridge opens them (bridge_topics_problem).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace shmbus_bridge {

struct NatsSettings {
    std::vector<std::string> urls;
    // Paths only: the files' contents are read by libnats and never pass through our logging.
    std::optional<std::filesystem::path> creds_file;
    std::optional<std::filesystem::path> nkey_file;  // an NKey seed; needs nkey_public
    std::string nkey_public;
    int max_reconnect = -1;                 // -1: reconnect forever
    std::int64_t reconnect_wait_ms = 1000;  // libnats's wait between attempts (plus jitter)
};

struct OutboundRoute {
    std::string topic;
    std::string subject;  // the template with {topic} replaced
    int line = 0;         // where the route is in the file, for messages
};

struct InboundRoute {
    std::string subject;  // may hold wildcards
    std::string topic;
    std::int64_t offer_timeout_ms = 1000;  // how long a full topic may hold back one message
    int line = 0;
};

struct BridgeConfig {
    std::filesystem::path source;
    NatsSettings nats;
    std::filesystem::path bus_directory;
    std::string origin;  // Shmbus-Origin of every outbound message
    std::vector<OutboundRoute> outbound;
    std::vector<InboundRoute> inbound;
};

/// Parses `text` (read from `origin`, named in messages). Throws shmbus::Error
/// (kInvalidArgument) whose message names the place, the key and what was wrong.
[[nodiscard]] BridgeConfig parse_bridge_config(const std::string& text, const std::string& origin);

/// Reads and parses the file at `path`.
[[nodiscard]] BridgeConfig load_bridge_config(const std::filesystem::path& path);

/// Whether every route's topic exists in the bus directory; the first missing one, named with
/// its route, or nullopt.
[[nodiscard]] std::optional<std::string> bridge_topics_problem(const BridgeConfig& config);

/// The default origin: this host's name and the bus directory ("host:/dev/shm/shmbus").
[[nodiscard]] std::string default_origin(const std::filesystem::path& bus_directory);

}  // namespace shmbus_bridge
