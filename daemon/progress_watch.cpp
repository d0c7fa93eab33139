#include "progress_watch.hpp"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shmbusd {
namespace {

constexpr std::string_view kProgressFile = ".progress";

}  // namespace

ProgressWatch::ProgressWatch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!fd_) {
        spdlog::warn(
            "cannot watch archive progress with inotify ({}); recording bookmarks move at each "
            "check only",
            std::strerror(errno));
    }
}

void ProgressWatch::watch(
    const std::map<std::string, std::filesystem::path, std::less<>>& archives) {
    if (!fd_) return;
    for (auto it = topics_.begin(); it != topics_.end();) {
        const auto wanted = archives.find(it->first);
        if (wanted != archives.end() && wanted->second == it->second.directory) {
            ++it;
            continue;
        }
        if (it->second.descriptor >= 0) (void)::inotify_rm_watch(fd_.get(), it->second.descriptor);
        it = topics_.erase(it);
    }
    for (const auto& [topic, directory] : archives) {
        Watched& watched = topics_[topic];
        watched.directory = directory;
        if (watched.descriptor >= 0) continue;
        watched.descriptor =
            ::inotify_add_watch(fd_.get(), directory.c_str(), IN_MODIFY | IN_ONLYDIR);
        if (watched.descriptor < 0 && errno != ENOENT && !warned_) {
            warned_ = true;  // ENOENT: the recorder has not created it yet
            spdlog::warn("cannot watch {} with inotify ({}); its bookmark moves at each check only",
                         directory.string(), std::strerror(errno));
        }
    }
}

std::set<std::string> ProgressWatch::changed() {
    std::set<std::string> topics;
    if (!fd_) return topics;
    alignas(inotify_event) char buffer[4096];
    for (;;) {
        const ssize_t got = ::read(fd_.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // EAGAIN: drained
        for (ssize_t offset = 0; offset + static_cast<ssize_t>(sizeof(inotify_event)) <= got;) {
            inotify_event event{};
            std::memcpy(&event, buffer + offset, sizeof event);
            const char* name = buffer + offset + sizeof(inotify_event);
            const std::string_view file(name, event.len > 0 ? ::strnlen(name, event.len) : 0);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event.len);
            if ((event.mask & IN_Q_OVERFLOW) != 0) {
                for (const auto& [topic, watched] : topics_)
                    topics.insert(topic);  // lost events: look at every one
                continue;
            }
            if ((event.mask & IN_IGNORED) != 0) {
                // The directory went away: watch it again once it is back (watch()).
                for (auto& [topic, watched] : topics_) {
                    if (watched.descriptor == event.wd) watched.descriptor = -1;
                }
                continue;
            }
            if (file != kProgressFile) continue;
            for (const auto& [topic, watched] : topics_) {
                if (watched.descriptor == event.wd) topics.insert(topic);
            }
        }
    }
    return topics;
}

}  // namespace shmbusd
