// Opening a topic: every check a file must pass before anything trusts it.
#include "shmbus/topic.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "shmbus/detail/format/geometry.hpp"
#include "shmbus/detail/format/lock_bytes.hpp"
#include "shmbus/detail/format/state_restore.hpp"
#include "shmbus/detail/sync/ofd_lock.hpp"
#include "shmbus/detail/util/topic_name.hpp"
#include "sigbus_guard.hpp"
#include "topic_mapping.hpp"

namespace shmbus {
namespace detail {

TopicMapping::~TopicMapping() {
    if (records_map != nullptr) {
        unguard_mapping(records_map);
        ::munmap(records_map, records_size);
    }
    if (state_map != nullptr) {
        unguard_mapping(state_map);
        ::munmap(state_map, state_size);
    }
    if (records_fd >= 0) ::close(records_fd);
    if (state_fd >= 0) ::close(state_fd);
    if (locks_fd >= 0) ::close(locks_fd);
}

std::string describe(std::string_view name, const std::filesystem::path& dir) {
    return "topic '" + std::string(name) + "' in " + dir.string();
}

}  // namespace detail

namespace {

/// Reads exactly `size` bytes at offset 0, or explains why not.
void read_header(int fd, void* into, std::size_t size, const std::string& what) {
    const ssize_t got = ::pread(fd, into, size, 0);
    if (got < 0) throw system_error("reading " + what);
    if (static_cast<std::size_t>(got) != size) {
        throw Error(ErrorCode::kFormat, what + ": truncated: " + std::to_string(got) +
                                            " bytes, shorter than its " + std::to_string(size) +
                                            "-byte header");
    }
}

ErrorCode code_for_header_problem(std::uint64_t magic, std::uint64_t expected_magic,
                                  std::uint32_t version) {
    if (magic == expected_magic && version != format::kFormatVersion) {
        return ErrorCode::kIncompatible;
    }
    return ErrorCode::kFormat;
}

/// Refuses a file whose format version is not the one both this library and the code that
/// called it (whose inlined protocol will walk the file) were built for.
void require_format(std::uint64_t magic, std::uint64_t expected_magic, std::uint32_t version,
                    std::uint32_t compiled_format, const std::string& what) {
    if (compiled_format != format::kFormatVersion) {
        throw Error(ErrorCode::kIncompatible,
                    what + ": this program was built for topic format version " +
                        std::to_string(compiled_format) +
                        ", but the libshmbus it runs with reads " + "version " +
                        std::to_string(format::kFormatVersion) + " (the file is version " +
                        std::to_string(version) + "); rebuild the program against this libshmbus");
    }
    if (magic == expected_magic && version != format::kFormatVersion) {
        throw Error(ErrorCode::kIncompatible,
                    what + ": format version " + std::to_string(version) +
                        ", but this build reads version " + std::to_string(format::kFormatVersion) +
                        " (docs/COMPATIBILITY.md: recreate the topic with this version's "
                        "shmbusd or shmbus create)");
    }
}

std::uint64_t file_size(int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw system_error("stat " + what);
    if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::kFormat, what + " is not a regular file");
    return static_cast<std::uint64_t>(st.st_size);
}

void* map_file(int fd, std::size_t size, bool writable, bool prefault, const std::string& what) {
    int flags = MAP_SHARED;
    if (prefault) flags |= MAP_POPULATE;
    void* map = ::mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, flags, fd, 0);
    if (map == MAP_FAILED) throw system_error("mapping " + what);
    return map;
}

int open_file(const std::filesystem::path& path, int flags, const std::string& what,
              const std::string& topic, const char* needed) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) return fd;
    const int error = errno;
    if (error == ENOENT) {
        throw Error(ErrorCode::kNotFound, topic + " does not exist (no " + path.string() + ")",
                    error);
    }
    if (error == ELOOP) {
        throw Error(ErrorCode::kFormat,
                    topic + ": " + what + " " + path.string() +
                        " is a symbolic link; shmbus never follows one inside a topic",
                    error);
    }
    if (error == EACCES || error == EPERM) {
        throw Error(ErrorCode::kPermission,
                    topic + ": permission denied opening " + what + " " + path.string() + " (" +
                        needed + " access is needed)",
                    error);
    }
    throw system_error("opening " + path.string(), error);
}

}  // namespace

std::filesystem::path default_bus_directory() {
    if (const char* dir = std::getenv("SHMBUS_DIR"); dir != nullptr && *dir != '\0') return dir;
    return "/run/shmbus";
}

Topic Topic::open_for_format(const std::filesystem::path& dir, std::string_view name,
                             const OpenOptions& options, std::uint32_t compiled_format) {
    require_valid_topic_name(name);
    auto mapping = std::make_shared<detail::TopicMapping>();
    mapping->name = std::string(name);
    mapping->directory = dir;
    mapping->access = options.access;
    mapping->records_path = dir / mapping->name / "records";
    mapping->state_path = dir / mapping->name / "state";
    mapping->locks_path = dir / mapping->name / "locks";
    const std::string topic = detail::describe(name, dir);
    const bool writes_records = options.access != Access::kSubscribe;

    mapping->records_fd =
        open_file(mapping->records_path, writes_records ? O_RDWR : O_RDONLY, "records file", topic,
                  writes_records ? "read-write (publish)" : "read (subscribe)");

    // A shared lock on the init byte for as long as the topic is open: reinitialising takes the
    // exclusive lock, so it waits for every client to leave, and no client opens a file halfway
    // through being rewritten.
    switch (
        sync::try_lock_byte(mapping->records_fd, format::kInitLockByte, sync::LockKind::kRead)) {
        case sync::LockResult::kAcquired:
            break;
        case sync::LockResult::kConflict:
            throw Error(ErrorCode::kBusy, topic + " is being initialised; try again");
        case sync::LockResult::kError:
            throw system_error(topic + ": locking the records file");
    }

    const std::string records_what = topic + ": records file " + mapping->records_path.string();
    const std::uint64_t records_size = file_size(mapping->records_fd, records_what);
    auto records_header = std::make_unique<format::RecordsHeader>();
    read_header(mapping->records_fd, records_header.get(), sizeof(format::RecordsHeader),
                records_what);
    require_format(records_header->magic, format::kRecordsMagic, records_header->format_version,
                   compiled_format, records_what);
    if (auto problem = format::check_records_header(*records_header, records_size)) {
        throw Error(code_for_header_problem(records_header->magic, format::kRecordsMagic,
                                            records_header->format_version),
                    records_what + ": " + *problem);
    }

    mapping->state_fd = open_file(mapping->state_path, O_RDWR, "state file", topic, "read-write");
    const std::string state_what = topic + ": state file " + mapping->state_path.string();
    (void)file_size(mapping->state_fd, state_what);  // a regular file, before anything else
    // A state file that someone truncated, or whose header reads zero, is made whole again from
    // the records header (all of its identity is derived from it): truncating the file every
    // client must write costs the slots in it, never the topic (docs/SECURITY.md).
    const format::TopicParameters params = format::parameters_of(*records_header);
    const format::Geometry geometry = format::compute_geometry(params);
    mapping->state_restore.fd = mapping->state_fd;
    mapping->state_restore.size = geometry.state_file_size;
    mapping->state_restore.identity = format::expected_state_identity(*records_header);
    if (format::state_file_needs_restoring(mapping->state_restore)) {
        if (!format::restore_state_file(mapping->state_restore)) {
            throw system_error(state_what + ": restoring its size and header");
        }
    }
    const std::uint64_t state_size = file_size(mapping->state_fd, state_what);
    auto state_header = std::make_unique<format::StateHeader>();
    read_header(mapping->state_fd, state_header.get(), sizeof(format::StateHeader), state_what);
    if (auto problem = format::check_state_header(*state_header, state_size, *records_header)) {
        throw Error(code_for_header_problem(state_header->magic, format::kStateMagic,
                                            state_header->format_version),
                    state_what + ": " + *problem);
    }

    // The locks file holds the publisher slot locks and the repair lock. Only publishers and the
    // daemon may open it, and only for writing, so nobody who may merely read the topic can take
    // one of those locks, not even a read lock (docs/SECURITY.md).
    if (writes_records) {
        mapping->locks_fd =
            open_file(mapping->locks_path, O_WRONLY, "locks file", topic, "write (publish)");
        (void)file_size(mapping->locks_fd, topic + ": locks file " + mapping->locks_path.string());
    }

    // Map, then build the view from the copies we validated, never from the mapping.
    mapping->records_size = geometry.records_file_size;
    mapping->records_map = map_file(mapping->records_fd, mapping->records_size, writes_records,
                                    options.prefault, records_what);
    mapping->state_size = geometry.state_file_size;
    mapping->state_map =
        map_file(mapping->state_fd, mapping->state_size, true, options.prefault, state_what);
    // A records file truncated under us from here on costs this topic, not the process; a state
    // file truncated under us is made whole again by whoever touches it first.
    detail::guard_mapping(mapping->records_map, mapping->records_size, &mapping->lost, nullptr);
    detail::guard_mapping(mapping->state_map, mapping->state_size, &mapping->lost,
                          &mapping->state_restore);

    auto* records_base = static_cast<std::byte*>(mapping->records_map);
    auto* state_base = static_cast<std::byte*>(mapping->state_map);
    ring::TopicView& view = mapping->view;
    view.capacity = params.capacity;
    view.mask = params.capacity - 1;
    view.max_record_size = params.max_record_size;
    view.max_publishers = params.max_publishers;
    view.max_subscribers = params.max_subscribers;
    view.policy = params.policy;
    view.timestamps = (params.flags & format::kFlagTimestamps) != 0;
    view.fenced_commits = (params.flags & format::kFlagFencedCommits) != 0;
    view.record_header_size = format::record_header_size(view.timestamps);
    view.records = reinterpret_cast<format::RecordsHeader*>(records_base);
    view.publishers =
        reinterpret_cast<format::PublisherSlot*>(records_base + geometry.publisher_slots_offset);
    view.ring = records_base + geometry.ring_offset;
    view.state = reinterpret_cast<format::StateHeader*>(state_base);
    view.subscribers =
        reinterpret_cast<format::SubscriberSlot*>(state_base + geometry.subscriber_slots_offset);
    view.publisher_waits =
        reinterpret_cast<format::PublisherWait*>(state_base + geometry.publisher_waits_offset);
    return Topic(std::move(mapping));
}

const std::string& Topic::name() const noexcept {
    return mapping_->name;
}
const std::filesystem::path& Topic::directory() const noexcept {
    return mapping_->directory;
}
Access Topic::access() const noexcept {
    return mapping_->access;
}
const ring::TopicView& Topic::view() const noexcept {
    return mapping_->view;
}
int Topic::records_fd() const noexcept {
    return mapping_->records_fd;
}
int Topic::state_fd() const noexcept {
    return mapping_->state_fd;
}
int Topic::locks_fd() const noexcept {
    return mapping_->locks_fd;
}

bool restore_state_file(const Topic& topic) {
    const format::StateRestore& restore = topic.mapping()->state_restore;
    if (!format::state_file_needs_restoring(restore)) return false;
    if (!format::restore_state_file(restore)) {
        throw system_error(detail::describe(topic.name(), topic.directory()) +
                           ": restoring the state file's size and header");
    }
    return true;
}

std::vector<std::string> list_topics(const std::filesystem::path& dir) {
    std::error_code error;
    std::filesystem::directory_iterator it(dir, error);
    if (error) {
        throw system_error("listing bus directory " + dir.string(), error.value());
    }
    std::vector<std::string> names;
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        if (topic_name_problem(name)) continue;  // the daemon's files, half-created topics
        std::error_code ignored;
        if (std::filesystem::is_regular_file(entry.path() / "records", ignored)) {
            names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace shmbus
