#include "shmbus/error.hpp"

#include <cstring>
#include <string>

namespace shmbus {

Error system_error(std::string_view what, int errno_value) {
    ErrorCode code = ErrorCode::kSystem;
    switch (errno_value) {
        case EACCES:
        case EPERM:
        case EROFS:
            code = ErrorCode::kPermission;
            break;
        case ENOENT:
        case ENOTDIR:
            code = ErrorCode::kNotFound;
            break;
        case EEXIST:
        case ENOTEMPTY:
            code = ErrorCode::kExists;
            break;
        case ENOSPC:
        case EDQUOT:
        case EFBIG:
            code = ErrorCode::kNoSpace;
            break;
        case EAGAIN:
        case EBUSY:
            code = ErrorCode::kBusy;
            break;
        case EINVAL:
        case ENAMETOOLONG:
            code = ErrorCode::kInvalidArgument;
            break;
        default:
            break;
    }
    std::string message(what);
    message += ": ";
    message += std::strerror(errno_value);
    return Error(code, std::move(message), errno_value);
}

std::string_view to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return "invalid argument";
        case ErrorCode::kNotFound:
            return "not found";
        case ErrorCode::kExists:
            return "already exists";
        case ErrorCode::kPermission:
            return "permission denied";
        case ErrorCode::kFormat:
            return "bad file format";
        case ErrorCode::kIncompatible:
            return "unsupported format version";
        case ErrorCode::kNoSpace:
            return "no space left";
        case ErrorCode::kNoSlot:
            return "no free slot";
        case ErrorCode::kBusy:
            return "busy";
        case ErrorCode::kSystem:
            return "system error";
    }
    return "unknown error";
}

}  // namespace shmbus
