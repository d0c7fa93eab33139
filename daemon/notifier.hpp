// Telling systemd how the daemon is doing (sd_notify, libsystemd): READY=1 once the topics are
// set up and the control socket listens, STATUS= lines with topic and client counts,
// RELOADING=1 around a configuration reload, STOPPING=1, and WATCHDOG=1 at half of
// WatchdogSec, sent from the event loop itself so a loop that hangs stops the pings.
//
// Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
#pragma once

#include <chrono>
#include <string>

namespace shmbusd {

class Notifier {
  public:
    using Clock = std::chrono::steady_clock;

    /// Reads $NOTIFY_SOCKET and $WATCHDOG_USEC (through sd_watchdog_enabled).
    Notifier();

    void ready();
    void reloading();
    void stopping();
    /// Sends STATUS=`text` if it differs from the last one sent.
    void status(const std::string& text);

    /// Sends WATCHDOG=1 if the watchdog is enabled and a ping is due at `now`.
    void ping_if_due(Clock::time_point now);
    /// When the next ping is due; Clock::time_point::max() without a watchdog.
    [[nodiscard]] Clock::time_point next_ping() const noexcept { return next_ping_; }

  private:
    void send(const std::string& message);

    std::chrono::microseconds interval_{0};  // half of WatchdogSec; 0 when disabled
    Clock::time_point next_ping_ = Clock::time_point::max();
    std::string last_status_;
    bool warned_ = false;
};

}  // namespace shmbusd
