#include "bus_directory.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "arguments.hpp"
#include "exit_status.hpp"

namespace shmbus::cli {

BusDirectory resolve_bus_directory(const std::optional<std::string>& dir_option) {
    if (dir_option) {
        if (dir_option->empty()) throw Failure(ExitStatus::kUsage, "--dir: the path is empty");
        return {*dir_option, "--dir"};
    }
    if (const char* env = std::getenv("SHMBUS_DIR"); env != nullptr && *env != '\0') {
        return {env, "SHMBUS_DIR"};
    }
    return {default_bus_directory(), "the default"};
}

void require_bus_directory(const BusDirectory& dir) {
    const std::string where =
        fmt::format("bus directory {} (from {})", dir.path.string(), dir.source);
    struct stat st {};
    if (::stat(dir.path.c_str(), &st) != 0) {
        const int error = errno;
        if (error == ENOENT || error == ENOTDIR) {
            throw Failure(ExitStatus::kNotFound,
                          where + " does not exist; create it, start shmbusd, or pass --dir");
        }
        if (error == EACCES) {
            throw Failure(ExitStatus::kPermission, where + ": permission denied");
        }
        throw Failure(ExitStatus::kFailure, fmt::format("{}: {}", where, std::strerror(error)));
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Failure(ExitStatus::kNotFound, where + " is not a directory");
    }
    if (::access(dir.path.c_str(), X_OK) != 0) {
        throw Failure(ExitStatus::kPermission, where + ": permission denied (cannot search it)");
    }
}

Topic open_topic(const std::filesystem::path& dir, std::string_view name,
                 const OpenOptions& options) {
    require_topic_name(name);
    try {
        return Topic::open(dir, name, options);
    } catch (const Error& error) {
        if (error.code() != ErrorCode::kNotFound) throw;
        throw Failure(ExitStatus::kNotFound,
                      fmt::format("{}; create it with 'shmbus create {}'", error.what(), name));
    }
}

}  // namespace shmbus::cli
