// What the orchestrator knows about a run when it hands it to the checker: the topics, every
// process incarnation it started, how each ended, and when each process was stopped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace shmbus::soak {

enum class RoleKind : std::uint8_t { kPublisher, kSubscriber, kDaemon };

[[nodiscard]] inline const char* to_string(RoleKind kind) noexcept {
    switch (kind) {
        case RoleKind::kPublisher:
            return "publisher";
        case RoleKind::kSubscriber:
            return "subscriber";
        case RoleKind::kDaemon:
            return "daemon";
    }
    return "?";
}

struct TopicSpec {
    std::string name;
    bool block = true;
    bool evict = false;  // block topics: slow_subscriber = "evict"
    int publishers = 1;
    int subscribers = 1;
};

/// [from, to] in CLOCK_MONOTONIC nanoseconds: the process was stopped (SIGSTOP to SIGCONT, or
/// to its death).
struct StopWindow {
    std::int64_t from = 0;
    std::int64_t to = 0;
};

enum class Ending : std::uint8_t {
    kRunning,     // never ended (a bug in the orchestrator if the checker sees it)
    kKilled,      // kill -9 by the orchestrator
    kFaultPoint,  // killed itself at an armed SHMBUS_FAULT point
    kEvicted,     // a subscriber evicted by the daemon (exit status 9)
    kCleanExit,   // stopped on SIGTERM, exit status 0
    kUnexpected,  // anything else: a violation
};

struct Incarnation {
    std::uint32_t number = 0;
    pid_t pid = -1;
    std::int64_t started_ns = 0;
    std::int64_t ended_ns = 0;
    Ending ending = Ending::kRunning;
    int raw_status = 0;  // from waitpid
    std::string fault;   // SHMBUS_FAULT it was started with, if any
};

/// One logical process: publisher 2, subscriber 0, the daemon. Restarts are its incarnations.
struct Seat {
    RoleKind kind = RoleKind::kPublisher;
    std::uint32_t id = 0;  // per kind
    int topic = -1;        // index into the topics; -1 for the daemon
    std::vector<Incarnation> incarnations;
    std::vector<StopWindow> stops;
};

struct RunRecord {
    std::uint64_t seed = 0;
    double duration_s = 0;
    double stall_bound_s = 0;
    std::filesystem::path logs;
    std::vector<TopicSpec> topics;
    std::vector<Seat> seats;
    std::vector<std::string> violations;  // found by the orchestrator while running
};

[[nodiscard]] inline std::filesystem::path publisher_log(const std::filesystem::path& logs,
                                                         std::uint32_t id,
                                                         std::uint32_t incarnation) {
    return logs / ("pub-" + std::to_string(id) + "-" + std::to_string(incarnation) + ".log");
}
[[nodiscard]] inline std::filesystem::path publisher_page(const std::filesystem::path& logs,
                                                          std::uint32_t id,
                                                          std::uint32_t incarnation) {
    return logs / ("pub-" + std::to_string(id) + "-" + std::to_string(incarnation) + ".page");
}
[[nodiscard]] inline std::filesystem::path subscriber_log(const std::filesystem::path& logs,
                                                          std::uint32_t id,
                                                          std::uint32_t incarnation) {
    return logs / ("sub-" + std::to_string(id) + "-" + std::to_string(incarnation) + ".log");
}
[[nodiscard]] inline std::filesystem::path output_log(const std::filesystem::path& logs,
                                                      RoleKind kind, std::uint32_t id,
                                                      std::uint32_t incarnation) {
    return logs / (std::string(to_string(kind)) + "-" + std::to_string(id) + "-" +
                   std::to_string(incarnation) + ".out");
}

}  // namespace shmbus::soak
