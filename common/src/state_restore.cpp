#include "shmbus/detail/format/state_restore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "shmbus/detail/format/geometry.hpp"

namespace shmbus::format {

StateIdentity expected_state_identity(const RecordsHeader& records) noexcept {
    const Geometry geometry = compute_geometry(parameters_of(records));
    StateHeader line{};
    line.magic = kStateMagic;
    line.format_version = kFormatVersion;
    line.header_size = kHeaderSize;
    line.file_size = geometry.state_file_size;
    std::memcpy(line.topic_id, records.topic_id, sizeof line.topic_id);
    line.max_subscribers = records.max_subscribers;
    line.max_publishers = records.max_publishers;
    line.subscriber_slots_offset = geometry.subscriber_slots_offset;
    line.publisher_waits_offset = geometry.publisher_waits_offset;
    StateIdentity identity{};
    static_assert(sizeof identity == offsetof(StateHeader, sleeping_subscribers));
    std::memcpy(identity.data(), &line, sizeof identity);
    return identity;
}

std::uint64_t new_incarnation() noexcept {
    // Not cryptographic, and need not be: it only has to differ from the value it replaces.
    static std::atomic<std::uint64_t> counter{0};
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    std::uint64_t value = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
                          static_cast<std::uint64_t>(now.tv_nsec);
    value ^= static_cast<std::uint64_t>(::getpid()) << 40;
    value += counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ull;
    value ^= value >> 31;
    value *= 0xBF58476D1CE4E5B9ull;
    value ^= value >> 29;
    return value != 0 ? value : 1;
}

bool state_file_needs_restoring(const StateRestore& restore) noexcept {
    struct stat st {};
    if (::fstat(restore.fd, &st) != 0) return false;
    if (static_cast<std::uint64_t>(st.st_size) < restore.size) return true;
    std::uint64_t magic = 0;
    if (::pread(restore.fd, &magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic)) {
        return true;
    }
    return magic == 0;
}

bool restore_state_file(const StateRestore& restore) noexcept {
    // The file may be truncated again while we restore it (by the same hostile client, over and
    // over): between the extension and the read of the identity line, the line can be gone. Each
    // attempt starts over from the file's size; a few in a row that all lose that race mean
    // restoring is not what this needs.
    constexpr int kAttempts = 8;
    bool changed = false;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        struct stat st {};
        if (::fstat(restore.fd, &st) != 0) return false;
        if (static_cast<std::uint64_t>(st.st_size) < restore.size) {
            // Extends the file and allocates every page, so no access to it can fault again.
            // Mode 0 never shrinks it: a racing restorer that got there first loses nothing.
            if (::fallocate(restore.fd, 0, 0, static_cast<off_t>(restore.size)) != 0) {
                if (errno == EINTR) continue;
                return false;
            }
            changed = true;
        }
        std::uint64_t magic = 0;
        const ssize_t got = ::pread(restore.fd, &magic, sizeof magic, 0);
        if (got != static_cast<ssize_t>(sizeof magic)) {
            if (got >= 0 || errno == EINTR) continue;  // truncated again meanwhile: extend again
            return false;
        }
        if (magic == 0) {
            // Through the file, not the mapping: this runs in a SIGBUS handler too. Only a zero
            // line is rewritten; a line somebody scribbled into something else is not ours to
            // guess at, and a new client's validation reports it.
            const ssize_t size = static_cast<ssize_t>(sizeof restore.identity);
            if (::pwrite(restore.fd, restore.identity.data(), sizeof restore.identity, 0) != size) {
                return false;
            }
            changed = true;
        }
        if (changed) {
            const std::uint64_t incarnation = new_incarnation();
            const auto offset = static_cast<off_t>(offsetof(StateHeader, incarnation));
            if (::pwrite(restore.fd, &incarnation, sizeof incarnation, offset) !=
                static_cast<ssize_t>(sizeof incarnation)) {
                return false;
            }
        }
        return true;
    }
    return false;
}

}  // namespace shmbus::format
