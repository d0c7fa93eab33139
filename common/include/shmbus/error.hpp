// The one exception type shmbus throws, and only from setup paths: creating, opening and
// attaching. The data path never throws; it returns shmbus::Status.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>

namespace shmbus {

/// What went wrong, in terms a caller can act on. The CLI maps each to an exit status.
enum class ErrorCode {
    kInvalidArgument,  // a bad option, size, name or configuration value
    kNotFound,         // no such topic or directory
    kExists,           // the topic already exists
    kPermission,       // EACCES / EPERM on a file, a lock or the control socket
    kFormat,           // a file that is not a shmbus topic, or whose layout is inconsistent
    kIncompatible,     // a shmbus file of another format version than the one the caller was
                       // built for (see docs/COMPATIBILITY.md)
    kNoSpace,          // the file system is full (ENOSPC at creation)
    kNoSlot,           // every publisher or subscriber slot of the topic is taken
    kBusy,             // the file is being (re)initialised, or another daemon owns the directory
    kSystem,           // any other failing system call
};

class Error : public std::runtime_error {
  public:
    Error(ErrorCode code, std::string message, int system_errno = 0)
        : std::runtime_error(std::move(message)), code_(code), errno_(system_errno) {}

    [[nodiscard]] ErrorCode code() const noexcept { return code_; }
    /// The errno of the failing system call, or 0 when the error is not a system call's.
    [[nodiscard]] int system_errno() const noexcept { return errno_; }

  private:
    ErrorCode code_;
    int errno_;
};

/// An Error for a failed system call: `what` says what was being attempted, errno says why.
/// The code follows errno (EACCES is kPermission, ENOENT kNotFound, ENOSPC kNoSpace, ...).
[[nodiscard]] Error system_error(std::string_view what, int errno_value = errno);

[[nodiscard]] std::string_view to_string(ErrorCode code) noexcept;

}  // namespace shmbus
