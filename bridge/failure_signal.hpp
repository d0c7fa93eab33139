// How a thread of the bridge that cannot go on tells main to stop with a failure: main waits
// for signals (sigwait), so the message is a signal it waits for, sent to this process.
#pragma once

#include <signal.h>
#include <unistd.h>

namespace shmbus_bridge {

/// main blocks it with SIGINT and SIGTERM, and exits 1 when it arrives.
inline constexpr int kFailureSignal = SIGUSR1;

/// Asks main to stop the bridge with a failure (the caller has logged why).
inline void signal_failure() noexcept {
    (void)::kill(::getpid(), kFailureSignal);
}

}  // namespace shmbus_bridge
