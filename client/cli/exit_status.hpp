// The tool's exit statuses, and the exceptions that carry one out of a command.
//
// Every failure leaves the tool through main(), which prints "shmbus: <message>" on stderr and
// exits with the status below. Scripts may rely on these numbers; docs/CLI.md lists them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "shmbus/error.hpp"
#include "shmbus/status.hpp"

namespace shmbus::cli {

enum class ExitStatus : int {
    kOk = 0,
    kFailure = 1,     // anything below does not name, such as a failing system call
    kUsage = 2,       // bad arguments, topic name or option value; a record over max record size
    kNotFound = 3,    // no such topic or bus directory
    kPermission = 4,  // permission denied on a file, a lock or the control socket
    kBadFile = 5,     // not a shmbus topic, an unsupported format version, corrupt shared state
    kNoSpace = 6,     // the file system is full
    kBusy = 7,        // every slot taken, or the topic is being initialised
    kTimedOut = 8,    // --timeout passed
    kEvicted = 9,     // the subscriber was evicted for holding back publishers
    kExists = 10,     // the topic already exists
};

/// Statuses 128 + N mean the tool stopped, cleanly, on signal N (SIGINT, SIGTERM).
inline constexpr int kInterruptedBase = 128;

[[nodiscard]] ExitStatus exit_status_for(ErrorCode code) noexcept;
[[nodiscard]] ExitStatus exit_status_for(Status status) noexcept;

/// The status for an exception a command lets out: Failure's own, Error's code's, else kFailure.
[[nodiscard]] ExitStatus exit_status_of(const std::exception& error) noexcept;

/// The table above as help text, for the tool's --help epilogue.
[[nodiscard]] std::string_view exit_status_help() noexcept;

/// A failure the command has already put into words: main prints the message and exits with
/// the status.
class Failure : public std::runtime_error {
  public:
    Failure(ExitStatus status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    [[nodiscard]] ExitStatus status() const noexcept { return status_; }

  private:
    ExitStatus status_;
};

}  // namespace shmbus::cli
