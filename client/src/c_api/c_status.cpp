// The C API's error model: status codes, their text, and the last failure of each thread.
#include <string>

#include "c_internal.hpp"
#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/version.hpp"

namespace shmbus::c_api {
namespace {

// The last failure on this thread. A message is either a static string (data-path statuses,
// no allocation on the hot path) or one held in `stored`.
thread_local std::string stored;
thread_local const char* last_message = "";
thread_local int last_errno = 0;

}  // namespace

int fail(int status, const char* message, int system_errno) noexcept {
    try {
        stored.assign(message);
        last_message = stored.c_str();
    } catch (...) {
        last_message = shmbus_strerror(status);
    }
    last_errno = system_errno;
    return status;
}

int fail(int status, const std::string& message, int system_errno) noexcept {
    return fail(status, message.c_str(), system_errno);
}

int fail_status(int status) noexcept {
    last_message = shmbus_strerror(status);
    last_errno = 0;
    return status;
}

int invalid(const char* function, const char* what) noexcept {
    try {
        return fail(SHMBUS_E_INVALID_ARGUMENT, std::string(function) + ": " + what);
    } catch (...) {
        return fail_status(SHMBUS_E_INVALID_ARGUMENT);
    }
}

int status_of(Status status) noexcept {
    switch (status) {
        case Status::kOk:
            return SHMBUS_OK;
        case Status::kBackPressured:
            return SHMBUS_E_BACK_PRESSURED;
        case Status::kTimedOut:
            return SHMBUS_E_TIMED_OUT;
        case Status::kTooLarge:
            return SHMBUS_E_TOO_LARGE;
        case Status::kEvicted:
            return SHMBUS_E_EVICTED;
        case Status::kForked:
            return SHMBUS_E_FORKED;
        case Status::kTopicLost:
            return SHMBUS_E_TOPIC_LOST;
        case Status::kCorrupt:
            return SHMBUS_E_CORRUPT;
        case Status::kClaimPending:
            return SHMBUS_E_CLAIM_PENDING;
        case Status::kNoClaim:
            return SHMBUS_E_NO_CLAIM;
        case Status::kInvalidArgument:
            return SHMBUS_E_INVALID_ARGUMENT;
        case Status::kClosed:
            return SHMBUS_E_CLOSED;
    }
    return SHMBUS_E_INTERNAL;
}

int status_of(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return SHMBUS_E_INVALID_ARGUMENT;
        case ErrorCode::kNotFound:
            return SHMBUS_E_NOT_FOUND;
        case ErrorCode::kExists:
            return SHMBUS_E_EXISTS;
        case ErrorCode::kPermission:
            return SHMBUS_E_PERMISSION;
        case ErrorCode::kFormat:
            return SHMBUS_E_FORMAT;
        case ErrorCode::kIncompatible:
            return SHMBUS_E_INCOMPATIBLE;
        case ErrorCode::kNoSpace:
            return SHMBUS_E_NO_SPACE;
        case ErrorCode::kNoSlot:
            return SHMBUS_E_NO_SLOT;
        case ErrorCode::kBusy:
            return SHMBUS_E_BUSY;
        case ErrorCode::kSystem:
            return SHMBUS_E_SYSTEM;
    }
    return SHMBUS_E_INTERNAL;
}

std::filesystem::path directory_of(const char* dir) {
    if (dir == nullptr) return default_bus_directory();
    return std::filesystem::path(dir);
}

}  // namespace shmbus::c_api

// shmbus.h and shmbus/version.hpp define the same version macros with the same values (both are
// included here: a difference would be a macro redefinition warning); client/CMakeLists.txt checks
// shmbus.h against the project's version when it configures.

extern "C" {

const char* shmbus_strerror(int status) {
    switch (status) {
        case SHMBUS_OK:
            return "ok";
        case SHMBUS_E_BACK_PRESSURED:
            return "back-pressured";
        case SHMBUS_E_TIMED_OUT:
            return "timed out";
        case SHMBUS_E_TOO_LARGE:
            return "record too large";
        case SHMBUS_E_EVICTED:
            return "evicted";
        case SHMBUS_E_FORKED:
            return "handle used in a forked child";
        case SHMBUS_E_TOPIC_LOST:
            return "topic lost (its files were truncated)";
        case SHMBUS_E_CORRUPT:
            return "corrupt shared state";
        case SHMBUS_E_CLAIM_PENDING:
            return "a claim is already pending";
        case SHMBUS_E_NO_CLAIM:
            return "no pending claim";
        case SHMBUS_E_INVALID_ARGUMENT:
            return "invalid argument";
        case SHMBUS_E_CLOSED:
            return "handle closed";
        case SHMBUS_E_NOT_FOUND:
            return "not found";
        case SHMBUS_E_EXISTS:
            return "already exists";
        case SHMBUS_E_PERMISSION:
            return "permission denied";
        case SHMBUS_E_FORMAT:
            return "not a valid shmbus topic";
        case SHMBUS_E_INCOMPATIBLE:
            return "incompatible topic format version";
        case SHMBUS_E_NO_SPACE:
            return "no space left on the file system";
        case SHMBUS_E_NO_SLOT:
            return "no free publisher or subscriber slot";
        case SHMBUS_E_BUSY:
            return "busy";
        case SHMBUS_E_SYSTEM:
            return "system call failed";
        case SHMBUS_E_NO_MEMORY:
            return "out of memory";
        case SHMBUS_E_INTERNAL:
            return "internal error";
        default:
            return "unknown status";
    }
}

const char* shmbus_last_error_message(void) {
    return shmbus::c_api::last_message;
}

int shmbus_last_errno(void) {
    return shmbus::c_api::last_errno;
}

const char* shmbus_version(void) {
    return shmbus::kVersion;
}

uint32_t shmbus_format_version(void) {
    return shmbus::format::kFormatVersion;
}

}  // extern "C"
