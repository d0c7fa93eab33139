// Topics: creating them, listing them, and opening one to publish or subscribe.
//
//   shmbus::create_topic("/run/shmbus", "orders", {.capacity = 1 << 20});
//   shmbus::Topic topic = shmbus::Topic::open("/run/shmbus", "orders");
//
// Setup calls throw shmbus::Error with a message that names the topic, the file and the reason.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/detail/ring/topic_view.hpp"
#include "shmbus/error.hpp"

namespace shmbus {

using Policy = format::Policy;

/// Owner, group and mode for one of a topic's files. Unset owner or group: the creator's.
struct FileAccess {
    mode_t mode = 0660;
    std::optional<uid_t> owner;
    std::optional<gid_t> group;
};

struct TopicOptions {
    std::uint64_t capacity = std::uint64_t{1} << 20;  // ring bytes; a power of two
    std::uint32_t max_record_size = 64 * 1024;        // frame must fit a quarter of the ring
    std::uint32_t max_publishers = 16;
    std::uint32_t max_subscribers = 64;
    Policy policy = Policy::kBlock;
    // Stamp each record with CLOCK_REALTIME: about 20 ns and 8 bytes of ring a record.
    bool timestamps = true;
    /// Publishers commit each record with a full barrier (a locked instruction, about 6% of
    /// single-record throughput here), so that a subscriber going to sleep needs no
    /// membarrier(2). That system call interrupts the CPUs running publishers; without it a
    /// sleeping reader's wake-up costs what a pipe's does. For topics whose readers mostly sleep
    /// (event loops, low rates); see docs/FORMAT.md, "Fenced commits".
    bool fenced_commits = false;
    /// Records: publishers need read-write, subscribers read. State: everyone read-write. The
    /// locks file takes the records file's owner and group and only its write bits
    /// (locks_access), so that only publishers can open it.
    FileAccess records{0640, std::nullopt, std::nullopt};
    FileAccess state{0660, std::nullopt, std::nullopt};
    /// The topic's directory: who may reach the two files at all. Unset owner or group: the
    /// records file's. A mode without search permission for some class locks that class out of
    /// the topic whatever the files' own modes say.
    FileAccess directory{0755, std::nullopt, std::nullopt};
};

/// The bus directory to use when none is given: $SHMBUS_DIR, else /run/shmbus.
[[nodiscard]] std::filesystem::path default_bus_directory();

/// The owner, group and mode of a topic's locks file, from its records file's: the write bits
/// only, and the owner's always (a records mode of 0660 gives 0220).
[[nodiscard]] FileAccess locks_access(const FileAccess& records) noexcept;

/// Creates topic `name` in `dir`. The topic appears atomically, fully initialised, or not at all;
/// its files are allocated up front, so a full file system fails here (kNoSpace) rather than
/// with SIGBUS later. Throws kExists if the topic exists.
void create_topic(const std::filesystem::path& dir, std::string_view name,
                  const TopicOptions& options = {});

/// Removes topic `name`. Clients still attached keep working on the old files until they
/// detach. Returns false if there was no such topic.
bool remove_topic(const std::filesystem::path& dir, std::string_view name);

/// Names of the topics in `dir`, sorted.
[[nodiscard]] std::vector<std::string> list_topics(const std::filesystem::path& dir);

enum class Access : std::uint8_t {
    kSubscribe,  // records mapped read-only; only Subscribers can be made
    kPublish,    // records mapped read-write; Publishers and Subscribers
    kAdmin,      // read-write, for the daemon and tools that repair topics
};

struct OpenOptions {
    Access access = Access::kPublish;
    bool prefault = true;  // map with MAP_POPULATE: pay the page faults at open, not per record
};

namespace detail {
struct TopicMapping;
}

/// An open topic: its two files mapped, validated. Copies share the mapping; it is unmapped when
/// the last copy, Publisher and Subscriber are gone. A Topic may be used from any number of
/// threads at once: it is immutable once open.
class Topic {
  public:
    /// Opens and validates topic `name` in `dir`. Throws shmbus::Error: kNotFound, kPermission,
    /// kFormat, kIncompatible (another format version), kBusy (being initialised).
    ///
    /// Inline on purpose: the publish and poll paths are compiled into the application, so the
    /// format version they were built for is passed from the application's own code, and a file
    /// of any other version is refused whichever libshmbus.so the application runs against
    /// (docs/COMPATIBILITY.md).
    [[nodiscard]] static Topic open(const std::filesystem::path& dir, std::string_view name,
                                    const OpenOptions& options = {}) {
        return open_for_format(dir, name, options, format::kFormatVersion);
    }

    /// Topic::open for code built for topic format `compiled_format`: refuses (kIncompatible) a
    /// file of any other version, and any file at all if this library reads another version.
    [[nodiscard]] static Topic open_for_format(const std::filesystem::path& dir,
                                               std::string_view name, const OpenOptions& options,
                                               std::uint32_t compiled_format);

    [[nodiscard]] const std::string& name() const noexcept;
    [[nodiscard]] const std::filesystem::path& directory() const noexcept;
    [[nodiscard]] Access access() const noexcept;
    [[nodiscard]] std::uint64_t capacity() const noexcept { return view().capacity; }
    [[nodiscard]] std::uint32_t max_record_size() const noexcept { return view().max_record_size; }
    [[nodiscard]] Policy policy() const noexcept { return view().policy; }

    /// The mapped layout, for tools and the daemon. Applications need not touch it.
    [[nodiscard]] const ring::TopicView& view() const noexcept;
    /// Descriptors of the topic's files, holding no slot lock: for lock probes by tools and the
    /// daemon. locks_fd() is -1 for a topic opened with Access::kSubscribe: the locks file is
    /// for publishers and the daemon only (docs/FORMAT.md, "Slots and liveness").
    [[nodiscard]] int records_fd() const noexcept;
    [[nodiscard]] int state_fd() const noexcept;
    [[nodiscard]] int locks_fd() const noexcept;

    [[nodiscard]] const std::shared_ptr<const detail::TopicMapping>& mapping() const noexcept {
        return mapping_;
    }

  private:
    explicit Topic(std::shared_ptr<const detail::TopicMapping> mapping)
        : mapping_(std::move(mapping)) {}
    std::shared_ptr<const detail::TopicMapping> mapping_;
};

/// How far write_back goes.
enum class WriteBack : std::uint8_t {
    kStart,  // start writing the dirty pages to the file system; do not wait
    kWait,   // return once they are on the file: msync(MS_SYNC)
};

/// Writes `topic`'s records file (its header, the publisher slots and the ring: everything a
/// subscriber reads after a restart) from the shared mapping back to its file. With kWait, every
/// record committed before the call is on the file, as durable as fdatasync(2) makes it, when the
/// call returns. kStart asks the kernel to begin writing and returns at once
/// (sync_file_range(2); msync's MS_ASYNC does nothing on Linux). The state file (subscriber
/// positions, wake-up bits) is not written: a restart rebuilds what it needs.
///
/// On a tmpfs (/dev/shm, /run) there is no file beneath the memory: this returns at once, and
/// nothing survives a reboot whatever it does (docs/RELIABILITY.md, "Durable topics"). Throws
/// shmbus::Error naming the topic if the kernel reports a failure (EIO: the disk refused the
/// write; the records that failed are then not durable).
void write_back(const Topic& topic, WriteBack how);

/// Puts `topic`'s state file back if it was truncated, or its identity line zeroed, since it was
/// opened (docs/FORMAT.md, "A truncated state file"): any client may, clients do when they touch
/// a lost page, and shmbusd does on every pass. Returns true if it had to. Throws shmbus::Error
/// (kSystem) if it could not, on a full file system.
bool restore_state_file(const Topic& topic);

}  // namespace shmbus
