// The daemon proper: one thread, one poll loop over the signalfd, the control socket and its
// connections, with the supervision check and the watchdog ping as deadlines.
//
//   start     load the configuration, take the directory's lock, set up the configured topics,
//             check every topic once, listen on the control socket, then tell systemd READY=1
//   loop      signals, control requests, a check every check_interval, WATCHDOG=1 when due,
//             STATUS= when the counts change; the recorders of [topics.NAME.archive]: started,
//             reaped on SIGCHLD and started again when their backoff ends, and their bookmarks
//             moved when they report progress (recorder_process.hpp, bookmark.hpp)
//   SIGHUP    load the configuration again; if it is valid, switch to it (new topics, new
//             policies, new log level); if not, log why and keep the old one
//   SIGTERM   stop listening, stop the recorders, let go of the topics (clearing
//             supervisor_pid), exit 0
#pragma once

#include <filesystem>
#include <optional>

#include "config.hpp"

namespace shmbusd {

struct DaemonOptions {
    std::optional<std::filesystem::path> config_path;  // nullopt: built-in defaults
    std::optional<std::filesystem::path> directory;    // --dir, over the configuration's
};

/// Loads the configuration the options name, with --dir applied. Throws shmbus::Error.
[[nodiscard]] Config load_daemon_config(const DaemonOptions& options);

/// Runs the daemon until SIGTERM or SIGINT. Returns the exit status: 0 after a clean stop.
/// Throws shmbus::Error if it cannot start (another daemon, an unusable directory).
[[nodiscard]] int run_daemon(const DaemonOptions& options, Config config);

}  // namespace shmbusd
