// DIR/.progress: how far a recorder has got, for a supervisor that must not open the archive to
// learn it (docs/ARCHIVE.md, "The progress file"). The recorder rewrites the file's 64 bytes in
// place with one pwrite() after each flush that archived something; shmbusd reads them when
// the file changes and at each check, to move the bookmark that keeps a block topic's
// publishers from overwriting what the archive lacks.
//
// The file is a hint from whoever can write the directory, so reading it trusts nothing: its
// size, magic, version and checksum must be right (a torn or foreign file reads as absent), and
// the caller checks the values against what it knows (the topic id, the ring's tail).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus::archive {

inline constexpr std::uint32_t kProgressFileSize = 64;

struct Progress {
    std::uint8_t topic_id[16] = {};
    /// The sequence after the last entry flushed; nullopt while the archive is empty.
    std::optional<std::uint64_t> next_sequence;
    std::uint64_t flushed_at_ns = 0;  // CLOCK_REALTIME of the flush
    std::int32_t last_error = 0;      // errno of the last failed flush (0: the flush succeeded)
    std::uint32_t pid = 0;            // the recorder's process
};

/// The recorder's side: DIR/.progress opened (created 0644) for rewriting in place.
class ProgressFile {
  public:
    /// Opens or creates DIR/.progress. Throws shmbus::Error with the system error.
    explicit ProgressFile(const std::filesystem::path& dir);

    /// Writes `progress` over the file's 64 bytes with one pwrite(). Throws shmbus::Error.
    void write(const Progress& progress);

  private:
    std::filesystem::path path_;
    util::UniqueFd fd_;
};

/// Reads DIR/.progress. nullopt if there is none, or it is not a whole progress file of this
/// version with a right checksum (a torn read, a foreign file): never throws.
[[nodiscard]] std::optional<Progress> read_progress(const std::filesystem::path& dir) noexcept;

}  // namespace shmbus::archive
