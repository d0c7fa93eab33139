// Everything one run of the driver measures: which peer, which case, and how.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

struct CaseOptions {
    std::string peer = "shmbus";
    std::string kind = "pingpong";  // pingpong, stream, topics, footprint
    std::size_t size = 64;          // payload bytes per record
    std::uint64_t count = 200'000;  // measured round trips, or records per writer
    std::uint64_t warmup = 20'000;  // round trips before measuring (pingpong)
    std::size_t writers = 1;
    std::size_t readers = 1;
    std::vector<int> writer_cpus{0};  // ping side, or the writers, round-robin
    std::vector<int> reader_cpus{1};  // pong side, or the readers, round-robin
    std::size_t batch = 32;           // records handed to send_many at once (stream)
    bool deferred_readers = false;    // stream: readers start after the writer finished
    std::size_t topics = 1;           // topics study
    PeerOptions peer_options;
    std::chrono::seconds timeout{300};
    std::filesystem::path daemon;                    // shmbusd to supervise the case, if set
    std::chrono::milliseconds daemon_interval{250};  // its check interval
    std::filesystem::path scratch_root = "/dev/shm";
};

}  // namespace shmbus::bench
