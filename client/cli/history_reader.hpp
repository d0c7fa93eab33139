// `shmbus sub TOPIC --archive DIR --since ... | --from-sequence N`: one topic read from its
// archive and then live, through archive::HistorySubscriber.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "exit_status.hpp"
#include "record_format.hpp"
#include "shmbus/subscriber.hpp"

namespace shmbus::cli {

struct HistoryRequest {
    std::filesystem::path bus_directory;
    std::string topic;
    std::filesystem::path archive;
    StartAt start = StartAt::earliest();
    RecordStyle style;
    std::uint64_t count = 0;                          // records to print before exiting
    std::optional<std::chrono::nanoseconds> timeout;  // without a record, then exit 8
};

/// Prints the records as `shmbus sub` does until the count, the timeout, a signal or an error.
/// Losses (records neither the archive nor the ring holds) are reported on stderr.
[[nodiscard]] ExitStatus read_history(const HistoryRequest& request);

}  // namespace shmbus::cli
