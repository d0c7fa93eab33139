// What the soak's processes leave behind for the checker: append-only logs of fixed-size
// entries, and a publisher's page, a small file mapped shared that survives kill -9.
//
// Each process incarnation writes its own files in the run's log directory:
//
//   pub-<id>-<incarnation>.log    PublisherLogEntry per committed record, written after commit
//   pub-<id>-<incarnation>.page   PublisherPage: the claim the publisher holds right now
//   sub-<id>-<incarnation>.log    SubscriberLogEntry: a start, then per poll its records and a
//                                 batch entry (one write() per poll), then perhaps an end
//
// A process killed between its action and its log entry leaves the action unlogged; the page
// and the batch entries make that window visible to the checker (see soak_main.cpp).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmbus::soak {

[[nodiscard]] inline std::int64_t monotonic_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

struct PublisherLogEntry {
    std::uint64_t sequence;
    std::uint64_t position;  // where the record's frame starts (Claim::position())
    std::int64_t want_ns;    // when the publisher began to claim it
    std::int64_t commit_ns;  // just after the commit
};
static_assert(sizeof(PublisherLogEntry) == 32);

/// A publisher's page. The publisher is the only writer; the orchestrator reads it after the
/// publisher has died and been reaped (waitpid orders the reads after every store). The stores
/// are relaxed atomics: nothing reads them concurrently, and a store either happened before the
/// kill or did not.
struct PublisherPage {
    std::uint64_t pending_sequence_plus_one;  // the claim held now: its sequence + 1, 0 for none
    std::uint64_t pending_position;           // ... and where it is (stored first)
    std::int64_t want_ns;                     // claiming since, 0 when not claiming
    std::uint64_t clean_exit;                 // 1 once it stopped on SIGTERM
};

enum class SubscriberEntryKind : std::uint32_t { kStart = 1, kRecord = 2, kBatch = 3, kEnd = 4 };

enum class EndReason : std::uint64_t { kDrained = 1, kEvicted = 2, kDrainTimedOut = 3, kError = 4 };

/// One subscriber log entry. The meaning of v[] depends on the kind:
///   kStart   v0 actual start position, v1 next_sequence() after attaching, v2 requested
///            position (resume) or ~0, v3 requested next sequence or ~0, v4 start time
///   kRecord  v0 position, v1 topic sequence, v2 publisher << 32 | incarnation, v3 sequence,
///            v4 claimed_ns (from the payload), v5 received_ns; flags: 1 intact, length << 16
///   kBatch   v0 position(), v1 next_sequence(), v2 lost(), v3 voided(), v4 consumed(),
///            v5 corrupt(); flags: the poll's Status
///   kEnd     v0 EndReason, v1 position(), v2 time
struct SubscriberLogEntry {
    SubscriberEntryKind kind;
    std::uint32_t flags;
    std::uint64_t v[6];
};
static_assert(sizeof(SubscriberLogEntry) == 56);

inline constexpr std::uint64_t kNone = ~std::uint64_t{0};

/// An append-only file of entries, each batch written with one write().
class AppendLog {
  public:
    explicit AppendLog(const std::filesystem::path& path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            throw std::runtime_error("opening " + path.string() + ": " + std::strerror(errno));
        }
    }
    ~AppendLog() { ::close(fd_); }
    AppendLog(const AppendLog&) = delete;
    AppendLog& operator=(const AppendLog&) = delete;

    void write(const void* data, std::size_t size) {
        const auto* bytes = static_cast<const char*>(data);
        while (size > 0) {
            const ssize_t done = ::write(fd_, bytes, size);
            if (done < 0 && errno == EINTR) continue;
            if (done <= 0)
                throw std::runtime_error(std::string("log write: ") + std::strerror(errno));
            bytes += done;
            size -= static_cast<std::size_t>(done);
        }
    }

  private:
    int fd_ = -1;
};

/// Reads a whole log of `Entry`; a torn last entry (a write cut by the kill) is dropped and
/// counted in `torn`.
template <typename Entry>
[[nodiscard]] std::vector<Entry> read_log(const std::filesystem::path& path, bool& torn) {
    std::vector<Entry> entries;
    torn = false;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return entries;
    std::vector<char> bytes;
    char buffer[1 << 16];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        bytes.insert(bytes.end(), buffer, buffer + got);
    }
    ::close(fd);
    torn = bytes.size() % sizeof(Entry) != 0;
    entries.resize(bytes.size() / sizeof(Entry));
    if (!entries.empty()) std::memcpy(entries.data(), bytes.data(), entries.size() * sizeof(Entry));
    return entries;
}

/// A PublisherPage mapped from its file.
class MappedPage {
  public:
    MappedPage(const std::filesystem::path& path, bool create) {
        const int fd =
            ::open(path.c_str(), (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
        if (fd < 0)
            throw std::runtime_error("opening " + path.string() + ": " + std::strerror(errno));
        if (create && ::ftruncate(fd, sizeof(PublisherPage)) != 0) {
            ::close(fd);
            throw std::runtime_error("sizing " + path.string() + ": " + std::strerror(errno));
        }
        struct stat info {};
        if (::fstat(fd, &info) != 0 || info.st_size < static_cast<off_t>(sizeof(PublisherPage))) {
            ::close(fd);
            throw std::runtime_error(path.string() + " is shorter than a publisher page");
        }
        void* mapped = ::mmap(nullptr, sizeof(PublisherPage),
                              create ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (mapped == MAP_FAILED) throw std::runtime_error("mapping " + path.string());
        page_ = static_cast<PublisherPage*>(mapped);
    }
    ~MappedPage() { ::munmap(page_, sizeof(PublisherPage)); }
    MappedPage(const MappedPage&) = delete;
    MappedPage& operator=(const MappedPage&) = delete;

    template <typename T>
    static void store(T& field, T value) noexcept {
        // Relaxed: see PublisherPage.
        std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
    }
    template <typename T>
    static T load(T& field) noexcept {
        // Relaxed: the writer is dead and reaped (see PublisherPage).
        return std::atomic_ref<T>(field).load(std::memory_order_relaxed);
    }

    [[nodiscard]] PublisherPage& page() noexcept { return *page_; }

  private:
    PublisherPage* page_ = nullptr;
};

}  // namespace shmbus::soak
