// Publishing one record from a command that a signal must be able to stop while the topic has
// no room (a block topic whose subscribers are behind).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>

#include "shmbus/publisher.hpp"
#include "shmbus/status.hpp"

namespace shmbus::cli {

/// Publisher::offer, waiting for room in slices of at most 100 ms and looking for SIGINT and
/// SIGTERM between them (throws Interrupted; needs an InterruptScope), for at most `timeout`
/// in all (nullopt: as long as it takes). Returns kOk, kTimedOut once `timeout` has passed
/// without room, or the failure offer returned.
[[nodiscard]] Status offer_interruptibly(Publisher& publisher, std::span<const std::byte> record,
                                         std::optional<std::chrono::nanoseconds> timeout);

}  // namespace shmbus::cli
