#include "shmbus/archive/progress_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "shmbus/error.hpp"

// Header-only: the hash is inlined here, and nothing links libxxhash at run time.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace shmbus::archive {
namespace {

constexpr const char* kProgressFile = ".progress";
constexpr std::uint64_t kProgressMagic = 0x474F'5250'424D'4853ULL;  // "SHMBPROG"
constexpr std::uint32_t kProgressVersion = 1;
constexpr std::uint32_t kHasNextSequence = 1;

// The file's bytes, little-endian as the rest of the archive (docs/ARCHIVE.md).
struct RawProgress {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t flags;
    std::uint8_t topic_id[16];
    std::uint64_t next_sequence;
    std::uint64_t flushed_at_ns;
    std::int32_t last_error;
    std::uint32_t pid;
    std::uint64_t checksum;  // XXH3-64 of bytes 0..55
};
static_assert(sizeof(RawProgress) == kProgressFileSize);
static_assert(offsetof(RawProgress, checksum) == 56);

std::uint64_t checksum_of(const RawProgress& raw) noexcept {
    return XXH3_64bits(&raw, offsetof(RawProgress, checksum));
}

}  // namespace

ProgressFile::ProgressFile(const std::filesystem::path& dir)
    : path_(dir / kProgressFile),
      fd_(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) {
    if (!fd_) throw system_error("opening " + path_.string());
}

void ProgressFile::write(const Progress& progress) {
    RawProgress raw{};
    raw.magic = kProgressMagic;
    raw.version = kProgressVersion;
    raw.flags = progress.next_sequence ? kHasNextSequence : 0;
    std::memcpy(raw.topic_id, progress.topic_id, sizeof raw.topic_id);
    raw.next_sequence = progress.next_sequence.value_or(0);
    raw.flushed_at_ns = progress.flushed_at_ns;
    raw.last_error = progress.last_error;
    raw.pid = progress.pid;
    raw.checksum = checksum_of(raw);
    const ssize_t written = ::pwrite(fd_.get(), &raw, sizeof raw, 0);
    if (written < 0) throw system_error("writing " + path_.string());
    if (static_cast<std::size_t>(written) != sizeof raw) {
        throw Error(ErrorCode::kNoSpace, "writing " + path_.string() + ": short write");
    }
}

std::optional<Progress> read_progress(const std::filesystem::path& dir) noexcept {
    std::filesystem::path path;
    try {
        path = dir / kProgressFile;
    } catch (...) {
        return std::nullopt;
    }
    const util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return std::nullopt;
    // One byte more than a progress file holds: a longer file is not one.
    std::byte buffer[kProgressFileSize + 1];
    const ssize_t got = ::pread(fd.get(), buffer, sizeof buffer, 0);
    if (got != static_cast<ssize_t>(kProgressFileSize)) return std::nullopt;
    RawProgress raw{};
    std::memcpy(&raw, buffer, sizeof raw);
    if (raw.magic != kProgressMagic || raw.version != kProgressVersion) return std::nullopt;
    if (raw.checksum != checksum_of(raw)) return std::nullopt;  // torn by a concurrent write
    if ((raw.flags & ~kHasNextSequence) != 0) return std::nullopt;
    Progress progress;
    std::memcpy(progress.topic_id, raw.topic_id, sizeof raw.topic_id);
    if ((raw.flags & kHasNextSequence) != 0) progress.next_sequence = raw.next_sequence;
    progress.flushed_at_ns = raw.flushed_at_ns;
    progress.last_error = raw.last_error;
    progress.pid = raw.pid;
    return progress;
}

}  // namespace shmbus::archive
