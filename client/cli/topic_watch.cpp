#include "topic_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "shmbus/detail/util/topic_name.hpp"
#include "shmbus/error.hpp"

namespace shmbus::cli {
namespace {

// The bus directory: entries renamed in (how topics appear) or made in place, renamed away (how
// remove_topic starts) or removed.
constexpr std::uint32_t kDirectoryEvents =
    IN_MOVED_TO | IN_CREATE | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;
// Inside a directory that is not a topic yet: its files arriving, being written, changing mode,
// and the directory itself going.
constexpr std::uint32_t kInsideEvents = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB |
                                        IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR;

}  // namespace

TopicWatch::TopicWatch(std::filesystem::path dir)
    : dir_(std::move(dir)), fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!fd_) throw system_error("inotify_init1, to watch the bus directory for new topics");
    dir_watch_ = ::inotify_add_watch(fd_.get(), dir_.c_str(), kDirectoryEvents);
    if (dir_watch_ < 0) {
        const int error = errno;
        throw system_error("watching bus directory " + dir_.string() + " for new topics" +
                               (error == ENOSPC ? " (raise fs.inotify.max_user_watches)" : ""),
                           error);
    }
}

bool TopicWatch::read(std::vector<Change>& changes) {
    alignas(inotify_event) char buffer[16 * 1024];
    bool complete = true;
    for (;;) {
        const ssize_t got = ::read(fd_.get(), buffer, sizeof buffer);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return complete;
            throw system_error("reading the bus directory's inotify events");
        }
        for (ssize_t at = 0; at < got;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            if ((event->mask & IN_Q_OVERFLOW) != 0) {
                complete = false;
                continue;
            }
            if (event->wd != dir_watch_) {
                const auto inside = inside_.find(event->wd);
                if (inside == inside_.end()) continue;  // forgotten: its IN_IGNORED comes late
                if ((event->mask & IN_IGNORED) != 0) {
                    inside_.erase(inside);  // the directory was removed
                    continue;
                }
                changes.push_back({Change::Kind::kChanged, inside->second});
                if ((event->mask & IN_MOVE_SELF) != 0) forget_inside(changes.back().name);
                continue;
            }
            if (event->len == 0 || (event->mask & IN_ISDIR) == 0) continue;
            std::string name(event->name);
            if (topic_name_problem(name)) continue;
            if ((event->mask & IN_MOVED_TO) != 0) {
                changes.push_back({Change::Kind::kAppeared, std::move(name)});
            } else if ((event->mask & IN_CREATE) != 0) {
                changes.push_back({Change::Kind::kCreated, std::move(name)});
            } else if ((event->mask & (IN_MOVED_FROM | IN_DELETE)) != 0) {
                changes.push_back({Change::Kind::kGone, std::move(name)});
            }
        }
    }
}

bool TopicWatch::watch_inside(const std::string& name) {
    const int watch = ::inotify_add_watch(fd_.get(), (dir_ / name).c_str(), kInsideEvents);
    if (watch < 0) return false;
    inside_[watch] = name;
    return true;
}

void TopicWatch::forget_inside(const std::string& name) {
    for (auto it = inside_.begin(); it != inside_.end(); ++it) {
        if (it->second != name) continue;
        (void)::inotify_rm_watch(fd_.get(), it->first);
        inside_.erase(it);
        return;
    }
}

}  // namespace shmbus::cli
