// The control plane: asking the daemon that supervises a bus directory to create a topic.
//
// Requests go over the Unix socket <dir>/.shmbusd.sock. The daemon authenticates the caller
// with SO_PEERCRED and applies its configuration's rules; records never pass through here.
#pragma once

#include <filesystem>
#include <string_view>

#include "shmbus/detail/control/message.hpp"
#include "shmbus/error.hpp"
#include "shmbus/topic.hpp"

namespace shmbus {

/// The layout to ask the daemon for; every unset field takes the daemon's configured default.
using TopicRequest = control::TopicRequest;

/// The control socket of the daemon supervising `dir`.
[[nodiscard]] std::filesystem::path control_socket_path(const std::filesystem::path& dir);

/// Asks the daemon supervising `dir` to create topic `name` with `options` (the daemon may apply
/// its own owner, group and modes). Returns normally once the topic exists. Throws shmbus::Error:
///   kNotFound         no daemon listens on the control socket
///   kPermission       the daemon's rules refuse this caller
///   kInvalidArgument  bad name or options (the message says which)
///   kExists           the topic already exists with different parameters
///   kNoSpace, kSystem as the daemon reports them
void request_topic(const std::filesystem::path& dir, std::string_view name,
                   const TopicOptions& options = {});

/// Asks the daemon supervising `dir` to make sure topic `name` exists. Unlike request_topic, it
/// names only the parameters the caller cares about: the daemon's configured defaults fill in the
/// rest, and an existing topic matches if it agrees on the parameters named. Returns true if this
/// call created the topic, false if it already existed. Throws as request_topic does.
///
///   shmbus::ensure_topic(dir, "orders", {.capacity = 16 << 20});
bool ensure_topic(const std::filesystem::path& dir, std::string_view name,
                  const TopicRequest& request = {});

/// Opens topic `name`; if it does not exist, asks the daemon to create it first. Inline, like
/// Topic::open, so that the format version checked is the one the caller was built for.
[[nodiscard]] inline Topic open_or_create(const std::filesystem::path& dir, std::string_view name,
                                          const TopicOptions& options = {},
                                          const OpenOptions& open_options = {}) {
    try {
        return Topic::open(dir, name, open_options);
    } catch (const Error& error) {
        if (error.code() != ErrorCode::kNotFound) throw;
    }
    try {
        request_topic(dir, name, options);
    } catch (const Error& error) {
        // Someone else created it first, with other parameters: it exists, which is all we need.
        if (error.code() != ErrorCode::kExists) throw;
    }
    return Topic::open(dir, name, open_options);
}

}  // namespace shmbus
