#include "daemon.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <shmbus/error.hpp>
#include <shmbus/version.hpp>
#include <vector>

#include "config_values.hpp"
#include "control_server.hpp"
#include "daemon_lock.hpp"
#include "logging.hpp"
#include "notifier.hpp"
#include "signals.hpp"
#include "supervisor.hpp"

namespace shmbusd {
namespace {

using Clock = std::chrono::steady_clock;

void log_warnings(const Config& config) {
    for (const std::string& warning : config.warnings) {
        spdlog::warn("{}: {}", config.origin, warning);
    }
}

/// Creates the bus directory if it does not exist (a first try: `shmbusd --dir ./run`).
void ensure_directory(const std::filesystem::path& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            throw shmbus::Error(shmbus::ErrorCode::kInvalidArgument,
                                "bus directory " + dir.string() + " exists but is not a directory");
        }
        return;
    }
    if (errno != ENOENT) throw shmbus::system_error("bus directory " + dir.string());
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) {
        throw shmbus::system_error("creating bus directory " + dir.string(), error.value());
    }
    std::filesystem::permissions(dir, std::filesystem::perms(0755), error);
    spdlog::info("created bus directory {}", dir.string());
}

std::string status_line(const BusCounts& counts) {
    std::string line = std::to_string(counts.topics) +
                       (counts.topics == 1 ? " topic, " : " topics, ") +
                       std::to_string(counts.publishers) +
                       (counts.publishers == 1 ? " publisher, " : " publishers, ") +
                       std::to_string(counts.subscribers) +
                       (counts.subscribers == 1 ? " subscriber attached" : " subscribers attached");
    if (counts.unusable > 0) {
        line += "; " + std::to_string(counts.unusable) +
                (counts.unusable == 1 ? " topic unusable" : " topics unusable") + " (see the log)";
    }
    return line;
}

}  // namespace

Config load_daemon_config(const DaemonOptions& options) {
    Config config = load_config(options.config_path);
    if (options.directory) config.directory = *options.directory;
    return config;
}

int run_daemon(const DaemonOptions& options, Config config) {
    log_warnings(config);
    ensure_directory(config.directory);
    // Signals are blocked before anything else could start a thread.
    SignalReader signals;
    DaemonLock lock(config.directory);
    spdlog::info("shmbusd {} supervising {} (configuration: {}; check every {}, unblock within {})",
                 shmbus::kVersion, config.directory.string(), config.origin,
                 format_duration(config.check_interval), format_duration(config.unblock_timeout));

    Notifier notifier;
    Supervisor supervisor(config);
    supervisor.set_up_configured_topics();
    supervisor.check(Clock::now());
    ControlServer server(
        config.directory,
        [&supervisor](const shmbus::control::CreateRequest& request, const Peer& peer) {
            return supervisor.handle_request(request, peer);
        });
    notifier.status(status_line(supervisor.counts()));
    notifier.ready();
    spdlog::info("ready: {}; control socket {}", status_line(supervisor.counts()),
                 server.path().string());

    Clock::time_point next_check = Clock::now() + config.check_interval;
    std::vector<pollfd> fds;
    for (;;) {
        const Clock::time_point now = Clock::now();
        notifier.ping_if_due(now);
        supervisor.tick_recorders(now);
        if (now >= next_check) {
            supervisor.check(now);
            notifier.status(status_line(supervisor.counts()));
            // Keep the rhythm, but never try to catch up on checks a stall made us miss.
            next_check = std::max(next_check + config.check_interval, now);
        }
        server.expire(now);

        const Clock::time_point wake =
            std::min({next_check, notifier.next_ping(), server.next_deadline(),
                      supervisor.next_recorder_deadline()});
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now());
        const int timeout = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 60'000));

        fds.clear();
        fds.push_back({signals.fd(), POLLIN, 0});
        // -1 when inotify is unavailable: poll ignores a negative descriptor.
        fds.push_back({supervisor.progress_fd(), POLLIN, 0});
        server.add_poll_fds(fds);
        const int ready = ::poll(fds.data(), fds.size(), timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw shmbus::system_error("poll in the daemon's loop");
        }
        if (ready == 0) continue;
        if ((fds[1].revents & POLLIN) != 0) supervisor.progress_reported();
        server.dispatch(std::span<const pollfd>(fds).subspan(2), Clock::now());
        if ((fds[0].revents & POLLIN) == 0) continue;

        for (SignalEvent event = signals.read(); event != SignalEvent::kNone;
             event = signals.read()) {
            if (event == SignalEvent::kChild) {
                supervisor.tick_recorders(Clock::now());  // reap it and log how it ended
                continue;
            }
            if (event == SignalEvent::kStop) {
                notifier.stopping();
                spdlog::info("stopping: {}", status_line(supervisor.counts()));
                return 0;  // the server, the topics and the lock let go as they are destroyed
            }
            notifier.reloading();
            spdlog::info("reloading the configuration from {}", config.origin);
            try {
                Config next = load_daemon_config(options);
                if (next.directory != config.directory) {
                    spdlog::warn(
                        "bus.directory changed to {}; a running daemon keeps {} (restart "
                        "it to move)",
                        next.directory.string(), config.directory.string());
                    next.directory = config.directory;
                }
                log_warnings(next);
                set_log_level(next.log_level);
                config = std::move(next);
                supervisor.reconfigure(config);
                supervisor.check(Clock::now());
                spdlog::info("reloaded: {}", status_line(supervisor.counts()));
            } catch (const shmbus::Error& error) {
                spdlog::error("the configuration was not reloaded, the previous one stays: {}",
                              error.what());
            }
            notifier.status(status_line(supervisor.counts()));
            notifier.ready();
        }
    }
}

}  // namespace shmbusd
