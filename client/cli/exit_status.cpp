#include "exit_status.hpp"

namespace shmbus::cli {

ExitStatus exit_status_for(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return ExitStatus::kUsage;
        case ErrorCode::kNotFound:
            return ExitStatus::kNotFound;
        case ErrorCode::kExists:
            return ExitStatus::kExists;
        case ErrorCode::kPermission:
            return ExitStatus::kPermission;
        case ErrorCode::kFormat:
        case ErrorCode::kIncompatible:
            return ExitStatus::kBadFile;
        case ErrorCode::kNoSpace:
            return ExitStatus::kNoSpace;
        case ErrorCode::kNoSlot:
        case ErrorCode::kBusy:
            return ExitStatus::kBusy;
        case ErrorCode::kSystem:
            return ExitStatus::kFailure;
    }
    return ExitStatus::kFailure;
}

ExitStatus exit_status_for(Status status) noexcept {
    switch (status) {
        case Status::kOk:
            return ExitStatus::kOk;
        case Status::kTimedOut:
        case Status::kBackPressured:
            return ExitStatus::kTimedOut;
        case Status::kTooLarge:
        case Status::kInvalidArgument:
            return ExitStatus::kUsage;
        case Status::kEvicted:
            return ExitStatus::kEvicted;
        case Status::kTopicLost:
        case Status::kCorrupt:
            return ExitStatus::kBadFile;
        case Status::kForked:
        case Status::kClaimPending:
        case Status::kNoClaim:
        case Status::kClosed:
            return ExitStatus::kFailure;
    }
    return ExitStatus::kFailure;
}

ExitStatus exit_status_of(const std::exception& error) noexcept {
    if (const auto* failure = dynamic_cast<const Failure*>(&error)) return failure->status();
    if (const auto* shmbus_error = dynamic_cast<const Error*>(&error)) {
        return exit_status_for(shmbus_error->code());
    }
    return ExitStatus::kFailure;
}

std::string_view exit_status_help() noexcept {
    return "Exit status:\n"
           "  0    success\n"
           "  1    other failure (such as a failing system call)\n"
           "  2    usage: bad arguments, topic name or option value; a record longer than the\n"
           "       topic's max record size\n"
           "  3    topic or bus directory not found\n"
           "  4    permission denied\n"
           "  5    not a shmbus topic, an unsupported format version, or corrupt shared state;\n"
           "       archive verify: a damaged archive\n"
           "  6    no space left on the file system\n"
           "  7    busy: no free publisher or subscriber slot, or topic being initialised;\n"
           "       record: another recorder writes the archive\n"
           "  8    timed out (--timeout)\n"
           "  9    subscriber evicted for holding back publishers\n"
           "  10   topic already exists\n"
           "  128+N  stopped cleanly by signal N (130: SIGINT, 143: SIGTERM)\n"
           "\n"
           "Environment:\n"
           "  SHMBUS_DIR   bus directory when --dir is not given (default /run/shmbus)\n";
}

}  // namespace shmbus::cli
