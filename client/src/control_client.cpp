// Placeholder until the daemon's control protocol lands: no daemon can be asked yet.
#include "shmbus/control.hpp"

namespace shmbus {

std::filesystem::path control_socket_path(const std::filesystem::path& dir) {
    return dir / ".shmbusd.sock";
}

void request_topic(const std::filesystem::path& dir, std::string_view name, const TopicOptions&) {
    throw Error(ErrorCode::kNotFound, "no shmbusd supervises " + dir.string() +
                                          " (cannot ask it to create topic '" + std::string(name) +
                                          "')");
}

Topic open_or_create(const std::filesystem::path& dir, std::string_view name,
                     const TopicOptions& options, const OpenOptions& open_options) {
    try {
        return Topic::open(dir, name, open_options);
    } catch (const Error& error) {
        if (error.code() != ErrorCode::kNotFound) throw;
    }
    request_topic(dir, name, options);
    return Topic::open(dir, name, open_options);
}

}  // namespace shmbus
