// A full-rate stream of the test payload (support/payload.hpp) published in a child process,
// and the archive it was recorded into read back and checked record by record. Shared by the
// recorder tests with and without shmbusd.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "support/child_process.hpp"

namespace shmbus::test {

/// What the publisher and the test tell each other; lives in a SharedBlock.
struct StreamControl {
    std::atomic<bool> stop{false};            // the test: publish no more
    std::atomic<std::uint64_t> published{0};  // the publisher: records committed so far
};

/// A publisher process on topic `topic` of `bus`: the test payload (slot 0, counters 0, 1, ...)
/// of up to `max_record` bytes, at full rate until told to stop, or in full-rate bursts of
/// `burst` records with a millisecond's pause after each. Exits 2 if a record waits a minute
/// for room.
[[nodiscard]] Child start_stream_publisher(const std::filesystem::path& bus,
                                           const std::string& topic, std::uint32_t max_record,
                                           StreamControl& control, std::uint64_t burst = 0);

struct ArchiveContents {
    std::uint64_t records = 0;
    std::uint64_t gaps = 0;
    std::uint64_t gap_records = 0;
    std::uint64_t next = 0;  // the sequence after the last entry
    std::string wrong;       // the first problem found
};

/// Reads the whole archive of such a stream, checking each record's payload and that the
/// entries' sequences follow on exactly (the stream aborts no claim, so no sequence is skipped).
[[nodiscard]] ArchiveContents read_stream_archive(const std::filesystem::path& archive,
                                                  std::uint32_t max_record);

}  // namespace shmbus::test
