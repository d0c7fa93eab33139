// The two client roles of the soak, each run as a process of its own by the orchestrator
// (`shmbus-soak publisher ...`, `shmbus-soak subscriber ...`). Both stop cleanly on SIGTERM.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace shmbus::soak {

struct PublisherRoleOptions {
    std::filesystem::path bus;
    std::string topic;
    std::uint32_t id = 0;
    std::uint32_t incarnation = 0;
    double rate = 1000;  // records per second, in bursts
    std::uint64_t seed = 0;
    std::filesystem::path log;
    std::filesystem::path page;
};

struct SubscriberRoleOptions {
    std::filesystem::path bus;
    std::string topic;
    std::uint32_t id = 0;
    std::uint32_t incarnation = 0;
    std::uint64_t seed = 0;
    std::uint64_t resume_position = ~std::uint64_t{0};  // ~0: start at the tail
    std::uint64_t resume_sequence = ~std::uint64_t{0};
    double slow_probability = 0.01;  // per poll: sleep 10-150 ms, as a slow consumer would
    double drain_timeout = 10;       // seconds to reach the tail after SIGTERM
    std::filesystem::path log;
};

/// Exit statuses of the roles.
inline constexpr int kRoleOk = 0;
inline constexpr int kRoleFailed = 1;          // an unexpected status or exception (printed)
inline constexpr int kRoleEvicted = 9;         // the daemon evicted the subscriber
inline constexpr int kRoleDrainTimedOut = 10;  // the subscriber did not reach the tail in time

int run_publisher(const PublisherRoleOptions& options);
int run_subscriber(const SubscriberRoleOptions& options);

}  // namespace shmbus::soak
