#include "reinit.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <shmbus/detail/format/lock_bytes.hpp>
#include <shmbus/detail/sync/ofd_lock.hpp>
#include <shmbus/detail/util/topic_name.hpp>
#include <shmbus/detail/util/unique_fd.hpp>
#include <shmbus/error.hpp>
#include <shmbus/topic.hpp>

#include "config_values.hpp"
#include "daemon_lock.hpp"

namespace shmbusd {
namespace {

class StagingDirectory {
  public:
    explicit StagingDirectory(std::filesystem::path path) : path_(std::move(path)) {}
    ~StagingDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    StagingDirectory(const StagingDirectory&) = delete;
    StagingDirectory& operator=(const StagingDirectory&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace

std::string reinit_topic(const Config& config, const std::string& name) {
    shmbus::require_valid_topic_name(name);
    const std::filesystem::path& dir = config.directory;
    const std::string topic = "topic '" + name + "' in " + dir.string();
    DaemonLock daemon(dir);  // throws naming the running daemon: stop it first

    const std::filesystem::path topic_dir = dir / name;
    const std::filesystem::path records = topic_dir / "records";
    std::error_code error;
    const bool exists = std::filesystem::exists(topic_dir, error);

    const shmbus::util::UniqueFd old_records(
        exists ? ::open(records.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW) : -1);
    if (exists && !old_records && errno != ENOENT) {
        throw shmbus::system_error(topic + ": opening " + records.string());
    }
    if (old_records) {
        switch (shmbus::sync::try_lock_byte(old_records.get(), shmbus::format::kInitLockByte,
                                            shmbus::sync::LockKind::kWrite)) {
            case shmbus::sync::LockResult::kAcquired:
                break;
            case shmbus::sync::LockResult::kConflict:
                throw shmbus::Error(shmbus::ErrorCode::kBusy,
                                    topic + " has clients attached (they hold " + records.string() +
                                        " open); stop them, then reinitialise it");
            case shmbus::sync::LockResult::kError:
                throw shmbus::system_error(topic + ": locking " + records.string());
        }
    }

    const TopicSettings& settings = config.settings_for(name);
    StagingDirectory staging(dir / (".reinit." + name + "." + std::to_string(::getpid())));
    if (::mkdir(staging.path().c_str(), 0700) != 0) {
        throw shmbus::system_error(topic + ": creating " + staging.path().string());
    }
    shmbus::create_topic(staging.path(), name, topic_options(settings));
    const std::filesystem::path fresh = staging.path() / name;
    if (!exists) {
        if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, topic_dir.c_str(), RENAME_NOREPLACE) !=
            0) {
            throw shmbus::system_error(topic + ": moving the new topic into place");
        }
        return "created " + topic + " (capacity " + format_size(settings.capacity) + ")";
    }
    if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, topic_dir.c_str(), RENAME_EXCHANGE) != 0) {
        throw shmbus::system_error(topic + ": swapping the new topic into place");
    }
    // The old files now sit in the staging directory, which goes when this returns.
    if (old_records && ::ftruncate(old_records.get(), 0) != 0) {
        throw shmbus::system_error(topic + ": truncating the old records file");
    }
    return "reinitialised " + topic + ": its records were discarded; capacity " +
           format_size(settings.capacity) + ", max record " +
           format_size(settings.max_record_size) + ", " +
           (settings.policy == shmbus::Policy::kBlock ? "block" : "overwrite") + " policy";
}

}  // namespace shmbusd
