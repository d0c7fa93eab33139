// Stopping cleanly on SIGINT and SIGTERM, and surviving a closed output pipe.
//
// Long-running commands (pub, sub) hold an InterruptScope. While it lives, SIGINT and SIGTERM
// only record the signal: blocking calls return early (no SA_RESTART), the command sees
// interrupt_signal() != 0, throws Interrupted, and its Publisher or Subscriber detaches as the
// stack unwinds. SIGPIPE is ignored, so a closed stdout shows up as EPIPE from write().
#pragma once

#include <signal.h>

#include <stdexcept>

namespace shmbus::cli {

class InterruptScope {
  public:
    InterruptScope();
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

  private:
    struct sigaction previous_int_ {};
    struct sigaction previous_term_ {};
    struct sigaction previous_pipe_ {};
};

/// The signal that asked the tool to stop, or 0.
[[nodiscard]] int interrupt_signal() noexcept;

/// Thrown to unwind a command stopped by a signal; main exits with 128 + signal.
class Interrupted : public std::runtime_error {
  public:
    explicit Interrupted(int signal) : std::runtime_error("interrupted"), signal_(signal) {}
    [[nodiscard]] int signal() const noexcept { return signal_; }

  private:
    int signal_;
};

/// Throws Interrupted if a signal asked the tool to stop.
inline void throw_if_interrupted() {
    if (const int signal = interrupt_signal(); signal != 0) throw Interrupted(signal);
}

/// Thrown when the reader of stdout went away (EPIPE): there is no one left to print for.
class OutputClosed : public std::runtime_error {
  public:
    OutputClosed() : std::runtime_error("output closed") {}
};

}  // namespace shmbus::cli
