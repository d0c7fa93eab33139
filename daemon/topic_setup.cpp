#include "topic_setup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config_values.hpp"
#include "shmbus/detail/format/wake_fifo.hpp"

namespace shmbusd {
namespace {

std::string policy_name(shmbus::Policy policy) {
    return policy == shmbus::Policy::kOverwrite ? "overwrite" : "block";
}

template <typename Value, typename Format>
void compare(std::vector<std::string>& out, const char* what, const Value& file,
             const Value& wanted, Format format, const char* wanted_by) {
    if (file == wanted) return;
    out.push_back(std::string(what) + " is " + format(file) + " in the file, " + format(wanted) +
                  " in the " + wanted_by);
}

std::string number(std::uint64_t value) {
    return std::to_string(value);
}

/// Applies owner, group and mode to one path, reporting what failed.
void enforce(const std::filesystem::path& path, std::optional<uid_t> owner,
             std::optional<gid_t> group, mode_t mode, std::vector<std::string>& problems) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        problems.push_back(path.string() + ": " + std::strerror(errno));
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        problems.push_back(path.string() + " is a symbolic link; left alone");
        return;
    }
    // Mode first, while the daemon still owns the file (see create_topic).
    if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) {
        problems.push_back("cannot set mode " + format_mode(mode) + " on " + path.string() + ": " +
                           std::strerror(errno));
    }
    const bool owner_differs = owner && st.st_uid != *owner;
    const bool group_differs = group && st.st_gid != *group;
    if ((owner_differs || group_differs) &&
        ::lchown(path.c_str(), owner_differs ? *owner : static_cast<uid_t>(-1),
                 group_differs ? *group : static_cast<gid_t>(-1)) != 0) {
        problems.push_back("cannot give " + path.string() + " to " +
                           (owner_differs ? describe_user(*owner) : std::string("its owner")) +
                           (group_differs ? ", group " + describe_group(*group) : std::string()) +
                           ": " + std::strerror(errno));
    }
}

}  // namespace

std::string join(const std::vector<std::string>& phrases) {
    std::string out;
    for (std::size_t i = 0; i < phrases.size(); ++i) {
        if (i > 0) out += i + 1 == phrases.size() ? " and " : ", ";
        out += phrases[i];
    }
    return out;
}

std::vector<std::string> layout_differences(const shmbus::ring::TopicView& view,
                                            const TopicSettings& settings) {
    std::vector<std::string> out;
    const char* by = "configuration";
    compare(out, "capacity", view.capacity, settings.capacity, format_size, by);
    compare(out, "max_record_size", std::uint64_t{view.max_record_size},
            std::uint64_t{settings.max_record_size}, format_size, by);
    compare(out, "max_publishers", std::uint64_t{view.max_publishers},
            std::uint64_t{settings.max_publishers}, number, by);
    compare(out, "max_subscribers", std::uint64_t{view.max_subscribers},
            std::uint64_t{settings.max_subscribers}, number, by);
    compare(out, "policy", view.policy, settings.policy, policy_name, by);
    compare(
        out, "timestamps", view.timestamps, settings.timestamps,
        [](bool on) { return std::string(on ? "on" : "off"); }, by);
    compare(
        out, "fenced_commits", view.fenced_commits, settings.fenced_commits,
        [](bool on) { return std::string(on ? "on" : "off"); }, by);
    return out;
}

std::vector<std::string> request_differences(const shmbus::ring::TopicView& view,
                                             const shmbus::control::TopicRequest& request) {
    std::vector<std::string> out;
    const char* by = "request";
    if (request.capacity)
        compare(out, "capacity", view.capacity, *request.capacity, format_size, by);
    if (request.max_record_size) {
        compare(out, "max_record_size", std::uint64_t{view.max_record_size},
                std::uint64_t{*request.max_record_size}, format_size, by);
    }
    if (request.max_publishers) {
        compare(out, "max_publishers", std::uint64_t{view.max_publishers},
                std::uint64_t{*request.max_publishers}, number, by);
    }
    if (request.max_subscribers) {
        compare(out, "max_subscribers", std::uint64_t{view.max_subscribers},
                std::uint64_t{*request.max_subscribers}, number, by);
    }
    if (request.policy) compare(out, "policy", view.policy, *request.policy, policy_name, by);
    if (request.timestamps) {
        compare(
            out, "timestamps", view.timestamps, *request.timestamps,
            [](bool on) { return std::string(on ? "on" : "off"); }, by);
    }
    if (request.fenced_commits) {
        compare(
            out, "fenced_commits", view.fenced_commits, *request.fenced_commits,
            [](bool on) { return std::string(on ? "on" : "off"); }, by);
    }
    return out;
}

TopicSettings apply_request(TopicSettings settings, const shmbus::control::TopicRequest& request) {
    if (request.capacity) settings.capacity = *request.capacity;
    if (request.max_record_size) settings.max_record_size = *request.max_record_size;
    if (request.max_publishers) settings.max_publishers = *request.max_publishers;
    if (request.max_subscribers) settings.max_subscribers = *request.max_subscribers;
    if (request.policy) settings.policy = *request.policy;
    if (request.timestamps) settings.timestamps = *request.timestamps;
    if (request.fenced_commits) settings.fenced_commits = *request.fenced_commits;
    return settings;
}

std::vector<std::string> enforce_access(const std::filesystem::path& dir, std::string_view name,
                                        const TopicSettings& settings) {
    const shmbus::TopicOptions options = topic_options(settings);
    const std::filesystem::path topic = dir / std::string(name);
    std::vector<std::string> problems;
    enforce(topic / "records", options.records.owner, options.records.group, options.records.mode,
            problems);
    enforce(topic / "state", options.state.owner, options.state.group, options.state.mode,
            problems);
    const shmbus::FileAccess locks = shmbus::locks_access(options.records);
    enforce(topic / "locks", locks.owner, locks.group, locks.mode, problems);
    // The wake FIFOs follow the records file, their directory the topic's (format/wake_fifo.hpp).
    const std::filesystem::path wake = topic / shmbus::format::kWakeDirectory;
    std::error_code listing;
    for (const auto& entry : std::filesystem::directory_iterator(wake, listing)) {
        enforce(entry.path(), options.records.owner, options.records.group, options.records.mode,
                problems);
    }
    if (listing) problems.push_back(wake.string() + ": " + listing.message());
    enforce(wake, options.directory.owner ? options.directory.owner : options.records.owner,
            options.directory.group ? options.directory.group : options.records.group,
            options.directory.mode, problems);
    enforce(topic, options.directory.owner, options.directory.group, options.directory.mode,
            problems);
    return problems;
}

}  // namespace shmbusd
