// Creating and removing topics.
//
// A topic is built in a hidden directory, "<dir>/.creating.<name>.<pid>.<random>", and renamed
// into place with RENAME_NOREPLACE once both files are complete. A reader therefore finds either
// no topic or a whole one, and two creators racing for one name get exactly one topic and one
// kExists. Both files are allocated with posix_fallocate before anything is written, so a full
// file system is an error here and never a SIGBUS in a client later.
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "shmbus/detail/format/geometry.hpp"
#include "shmbus/detail/format/publisher_slot.hpp"
#include "shmbus/detail/format/state_restore.hpp"
#include "shmbus/detail/format/wake_fifo.hpp"
#include "shmbus/detail/sync/semaphore.hpp"
#include "shmbus/detail/util/record_clock.hpp"
#include "shmbus/detail/util/topic_name.hpp"
#include "shmbus/detail/util/unique_fd.hpp"
#include "shmbus/topic.hpp"
#include "topic_mapping.hpp"

namespace shmbus {
namespace {

std::string random_suffix() {
    std::uint64_t value = 0;
    if (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
        value =
            static_cast<std::uint64_t>(::time(nullptr)) ^ static_cast<std::uint64_t>(::getpid());
    }
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return text;
}

/// Removes a half-built topic directory unless disarmed.
class BuildDirectory {
  public:
    explicit BuildDirectory(std::filesystem::path path) : path_(std::move(path)) {}
    ~BuildDirectory() {
        if (armed_) {
            std::error_code ignored;
            std::filesystem::remove_all(path_, ignored);
        }
    }
    BuildDirectory(const BuildDirectory&) = delete;
    BuildDirectory& operator=(const BuildDirectory&) = delete;
    void disarm() { armed_ = false; }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
    bool armed_ = true;
};

class Mapping {
  public:
    Mapping(int fd, std::size_t size, const std::string& what) : size_(size) {
        map_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map_ == MAP_FAILED) throw system_error("mapping " + what);
    }
    ~Mapping() { ::munmap(map_, size_); }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    [[nodiscard]] std::byte* bytes() const { return static_cast<std::byte*>(map_); }

  private:
    void* map_;
    std::size_t size_;
};

}  // namespace

FileAccess locks_access(const FileAccess& records) noexcept {
    FileAccess locks = records;
    locks.mode = (records.mode & 0222) | 0200;
    return locks;
}

namespace {

/// Creates `path` at full size, with the requested owner and mode, and returns its descriptor.
util::UniqueFd allocate_file(const std::filesystem::path& path, std::uint64_t size,
                             const FileAccess& access, const std::string& topic) {
    util::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw system_error(topic + ": creating " + path.string());
    // Mode first: once the file belongs to someone else, only a privileged creator may chmod it.
    if (::fchmod(fd.get(), access.mode) != 0) {
        throw system_error(topic + ": setting the mode of " + path.string());
    }
    if (access.owner || access.group) {
        if (::fchown(fd.get(), access.owner ? *access.owner : static_cast<uid_t>(-1),
                     access.group ? *access.group : static_cast<gid_t>(-1)) != 0) {
            throw system_error(topic + ": setting the owner of " + path.string());
        }
    }
    if (size == 0) return fd;
    if (const int error = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); error != 0) {
        if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
            throw Error(ErrorCode::kNoSpace,
                        topic + ": no space for " + std::to_string(size) + " bytes at " +
                            path.string() + " (" + std::strerror(error) +
                            "); free space or lower the topic's capacity",
                        error);
        }
        throw system_error(topic + ": allocating " + path.string(), error);
    }
    return fd;
}

/// `owner` and `group` of `path` (a file or FIFO we just made), where the options set them.
void set_owner(const std::filesystem::path& path, const FileAccess& access,
               const std::string& topic) {
    if (!access.owner && !access.group) return;
    if (::lchown(path.c_str(), access.owner ? *access.owner : static_cast<uid_t>(-1),
                 access.group ? *access.group : static_cast<gid_t>(-1)) != 0) {
        throw system_error(topic + ": setting the owner of " + path.string());
    }
}

/// The wake directory and one FIFO per subscriber slot (format/wake_fifo.hpp): the FIFOs with the
/// records file's owner, group and mode, the directory with the topic directory's.
void make_wake_fifos(const std::filesystem::path& topic_dir, std::uint32_t slots,
                     const TopicOptions& options, const std::string& topic) {
    const auto wake = topic_dir / format::kWakeDirectory;
    if (::mkdir(wake.c_str(), 0700) != 0) throw system_error(topic + ": creating " + wake.string());
    for (std::uint32_t slot = 0; slot < slots; ++slot) {
        const auto fifo = format::wake_fifo_path(topic_dir, slot);
        if (::mkfifo(fifo.c_str(), 0600) != 0) {
            throw system_error(topic + ": creating the wake FIFO " + fifo.string());
        }
        // Mode first, as for the files: once the FIFO belongs to someone else, only a privileged
        // creator may chmod it. (mkfifo's mode is cut by the umask; chmod's is not.)
        if (::chmod(fifo.c_str(), options.records.mode) != 0) {
            throw system_error(topic + ": setting the mode of " + fifo.string());
        }
        set_owner(fifo, options.records, topic);
    }
    if (::chmod(wake.c_str(), options.directory.mode) != 0) {
        throw system_error(topic + ": setting the mode of " + wake.string());
    }
    FileAccess directory = options.directory;
    if (!directory.owner) directory.owner = options.records.owner;
    if (!directory.group) directory.group = options.records.group;
    set_owner(wake, directory, topic);
}

void write_records(int fd, const format::TopicParameters& params, const format::Geometry& geometry,
                   const std::uint8_t (&topic_id)[16], std::string_view name,
                   const std::string& what) {
    Mapping map(fd, geometry.ring_offset, what);
    auto* header = reinterpret_cast<format::RecordsHeader*>(map.bytes());
    std::memset(header, 0, sizeof *header);
    header->magic = format::kRecordsMagic;
    header->format_version = format::kFormatVersion;
    header->header_size = format::kHeaderSize;
    header->file_size = geometry.records_file_size;
    header->ring_offset = geometry.ring_offset;
    header->capacity = params.capacity;
    header->publisher_slots_offset = geometry.publisher_slots_offset;
    header->max_record_size = params.max_record_size;
    header->max_publishers = params.max_publishers;
    header->max_subscribers = params.max_subscribers;
    header->policy = static_cast<std::uint32_t>(params.policy);
    header->flags = params.flags;
    header->created_ns = util::realtime_ns();
    std::memcpy(header->topic_id, topic_id, sizeof header->topic_id);
    std::memcpy(header->name, name.data(), name.size());
    auto* slots =
        reinterpret_cast<format::PublisherSlot*>(map.bytes() + geometry.publisher_slots_offset);
    for (std::uint32_t i = 0; i < params.max_publishers; ++i) {
        slots[i] = format::PublisherSlot{};
        slots[i].claim_intent = format::kNoIntent;
    }
}

void write_state(int fd, const format::TopicParameters& params, const format::Geometry& geometry,
                 const std::uint8_t (&topic_id)[16], const std::string& what) {
    Mapping map(fd, geometry.state_file_size, what);
    auto* header = reinterpret_cast<format::StateHeader*>(map.bytes());
    std::memset(header, 0, sizeof *header);
    header->magic = format::kStateMagic;
    header->format_version = format::kFormatVersion;
    header->header_size = format::kHeaderSize;
    header->file_size = geometry.state_file_size;
    std::memcpy(header->topic_id, topic_id, sizeof header->topic_id);
    header->max_subscribers = params.max_subscribers;
    header->max_publishers = params.max_publishers;
    header->subscriber_slots_offset = geometry.subscriber_slots_offset;
    header->publisher_waits_offset = geometry.publisher_waits_offset;
    header->incarnation = format::new_incarnation();
    auto* subscribers =
        reinterpret_cast<format::SubscriberSlot*>(map.bytes() + geometry.subscriber_slots_offset);
    for (std::uint32_t i = 0; i < params.max_subscribers; ++i) {
        sync::semaphore_initialise(subscribers[i].semaphore);
    }
    auto* waits =
        reinterpret_cast<format::PublisherWait*>(map.bytes() + geometry.publisher_waits_offset);
    for (std::uint32_t i = 0; i < params.max_publishers; ++i) {
        sync::semaphore_initialise(waits[i].semaphore);
    }
}

}  // namespace

void create_topic(const std::filesystem::path& dir, std::string_view name,
                  const TopicOptions& options) {
    require_valid_topic_name(name);
    const std::string topic = detail::describe(name, dir);
    format::TopicParameters params;
    params.capacity = options.capacity;
    params.max_record_size = options.max_record_size;
    params.max_publishers = options.max_publishers;
    params.max_subscribers = options.max_subscribers;
    params.policy = options.policy;
    params.flags = (options.timestamps ? format::kFlagTimestamps : 0u) |
                   (options.fenced_commits ? format::kFlagFencedCommits : 0u);
    if (auto problem = format::check_parameters(params)) {
        throw Error(ErrorCode::kInvalidArgument, topic + ": " + *problem);
    }
    const format::Geometry geometry = format::compute_geometry(params);

    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        throw system_error("bus directory " + dir.string());
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Error(ErrorCode::kNotFound, "bus directory " + dir.string() + " is not a directory");
    }
    std::error_code exists_error;
    if (std::filesystem::exists(dir / std::string(name), exists_error)) {
        throw Error(ErrorCode::kExists, topic + " already exists");
    }

    BuildDirectory build(dir / (".creating." + std::string(name) + "." +
                                std::to_string(::getpid()) + "." + random_suffix()));
    if (::mkdir(build.path().c_str(), 0700) != 0) {
        throw system_error(topic + ": creating " + build.path().string());
    }
    std::uint8_t topic_id[16];
    if (::getrandom(topic_id, sizeof topic_id, 0) != static_cast<ssize_t>(sizeof topic_id)) {
        throw system_error(topic + ": getrandom");
    }

    const auto records_path = build.path() / "records";
    const auto state_path = build.path() / "state";
    const auto locks_path = build.path() / "locks";
    {
        const util::UniqueFd records =
            allocate_file(records_path, geometry.records_file_size, options.records, topic);
        write_records(records.get(), params, geometry, topic_id, name, topic + ": records file");
        const util::UniqueFd state =
            allocate_file(state_path, geometry.state_file_size, options.state, topic);
        write_state(state.get(), params, geometry, topic_id, topic + ": state file");
        // Empty: only its lock bytes, far past its end, are used. The records file's owner and
        // group, and only its write bits, so that whoever may publish can take a lock and nobody
        // else can open it at all (docs/FORMAT.md, "Slots and liveness").
        const util::UniqueFd locks =
            allocate_file(locks_path, 0, locks_access(options.records), topic);
    }
    make_wake_fifos(build.path(), params.max_subscribers, options, topic);
    // The directory's mode decides who may reach the files at all; the files' own modes decide
    // who may do what with them.
    if (::chmod(build.path().c_str(), options.directory.mode) != 0) {
        throw system_error(topic + ": setting the mode of " + build.path().string());
    }
    const std::optional<uid_t> directory_owner =
        options.directory.owner ? options.directory.owner : options.records.owner;
    const std::optional<gid_t> directory_group =
        options.directory.group ? options.directory.group : options.records.group;
    if (directory_owner || directory_group) {
        if (::chown(build.path().c_str(),
                    directory_owner ? *directory_owner : static_cast<uid_t>(-1),
                    directory_group ? *directory_group : static_cast<gid_t>(-1)) != 0) {
            throw system_error(topic + ": setting the owner of " + build.path().string());
        }
    }
    const auto final_path = dir / std::string(name);
    if (::renameat2(AT_FDCWD, build.path().c_str(), AT_FDCWD, final_path.c_str(),
                    RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) {
            throw Error(ErrorCode::kExists, topic + " already exists", errno);
        }
        throw system_error(topic + ": renaming it into place");
    }
    build.disarm();
}

bool remove_topic(const std::filesystem::path& dir, std::string_view name) {
    require_valid_topic_name(name);
    const auto path = dir / std::string(name);
    const auto doomed = dir / (".removing." + std::string(name) + "." + std::to_string(::getpid()) +
                               "." + random_suffix());
    if (::rename(path.c_str(), doomed.c_str()) != 0) {
        if (errno == ENOENT) return false;
        throw system_error(detail::describe(name, dir) + ": removing");
    }
    std::error_code error;
    std::filesystem::remove_all(doomed, error);
    if (error) throw system_error("removing " + doomed.string(), error.value());
    return true;
}

}  // namespace shmbus
