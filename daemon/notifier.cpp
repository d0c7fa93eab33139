#include "notifier.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstring>

namespace shmbusd {

Notifier::Notifier() {
    std::uint64_t usec = 0;
    // 0: keep $WATCHDOG_USEC and $WATCHDOG_PID in the environment (nothing else reads them).
    const int enabled = ::sd_watchdog_enabled(0, &usec);
    if (enabled > 0 && usec > 0) {
        interval_ = std::chrono::microseconds(usec / 2);
        next_ping_ = Clock::now();
        spdlog::debug("systemd watchdog enabled: pinging every {} us", interval_.count());
    } else if (enabled < 0) {
        spdlog::warn("ignoring a malformed systemd watchdog setting: {}", std::strerror(-enabled));
    }
}

void Notifier::send(const std::string& message) {
    const int result = ::sd_notify(0, message.c_str());
    if (result < 0 && !warned_) {
        warned_ = true;
        spdlog::warn("cannot notify systemd ({}): {}", message.substr(0, message.find('=')),
                     std::strerror(-result));
    }
}

void Notifier::ready() {
    send("READY=1");
}

void Notifier::reloading() {
    send("RELOADING=1");
}

void Notifier::stopping() {
    send("STOPPING=1");
}

void Notifier::status(const std::string& text) {
    if (text == last_status_) return;
    last_status_ = text;
    send("STATUS=" + text);
}

void Notifier::ping_if_due(Clock::time_point now) {
    if (interval_.count() == 0 || now < next_ping_) return;
    send("WATCHDOG=1");
    next_ping_ = now + interval_;
}

}  // namespace shmbusd
