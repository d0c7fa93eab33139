// Appending to an archive directory: the recorder's side (docs/ARCHIVE.md).
//
// One writer per directory, enforced with a lock on DIR/.lock. Opening recovers the last
// segment: an entry the file ends inside (a crash mid-write) or one that fails its checks is
// cut off, with everything after it, and the index is rebuilt to match; nothing before it is
// touched. Entries are encoded into a buffer and handed to the kernel only by flush(), so an
// append never fails on I/O: a full segment is closed, and the next one created, by the flush
// after it. A flush writes the segment's bytes before its index's, so an index never points
// past its segment's data; with SyncPolicy::kEveryFlush each flush fdatasyncs the segment
// before it writes the index, and the index after.
// A segment is closed once it passes `segment_bytes`, at an entry boundary, and the next one is
// named after the sequence of its first entry. With a retention policy, each time a flush
// starts a new segment the oldest segments the policy does not allow are removed (retention.hpp),
// never the one being appended to.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/archive/retention.hpp"
#include "shmbus/archive/segment_format.hpp"
#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus::archive {

enum class SyncPolicy {
    kNone,        // written into the page cache: survives the recorder's crash, not the machine's
    kEveryFlush,  // fdatasync after each flush: survives a power loss once flush() returns
};

struct WriterOptions {
    std::uint64_t segment_bytes = std::uint64_t{64} << 20;
    SyncPolicy sync = SyncPolicy::kNone;
    RetentionPolicy retention{};  // applied each time a new segment starts; none by default
};

class ArchiveWriter {
  public:
    /// Opens the archive in `dir` for appending, creating the directory if needed. Throws
    /// shmbus::Error: kBusy (another writer holds it), kInvalidArgument (the archive holds
    /// another topic, or another incarnation of this one: its topic id differs), kFormat or
    /// kIncompatible (the last segment's header is not one of this version), and the system
    /// errors of creating and opening files.
    ArchiveWriter(std::filesystem::path dir, std::string_view topic_name,
                  std::span<const std::uint8_t, 16> topic_id, WriterOptions options = {});
    ~ArchiveWriter();
    ArchiveWriter(const ArchiveWriter&) = delete;
    ArchiveWriter& operator=(const ArchiveWriter&) = delete;

    /// The sequence after the last entry archived (a gap counting as its records); nullopt
    /// while the archive is empty.
    [[nodiscard]] std::optional<std::uint64_t> next_sequence() const noexcept {
        return next_sequence_;
    }
    /// Bytes recovery cut off the last segment's tail at open, and why ("" if none).
    [[nodiscard]] std::uint64_t truncated_bytes() const noexcept { return truncated_bytes_; }
    [[nodiscard]] const std::string& truncation_reason() const noexcept { return truncation_; }

    /// Appends a record to the buffer; no I/O. `sequence` must be at least next_sequence()
    /// (kInvalidArgument).
    void append_record(std::uint64_t sequence, std::uint64_t timestamp_ns, std::uint16_t publisher,
                       std::span<const std::byte> payload);
    /// Appends a gap marker: `count` records from `first_sequence` on that were never read.
    void append_gap(std::uint64_t first_sequence, std::uint64_t count, std::uint64_t timestamp_ns);
    /// Writes what is buffered (segment, then index), starting the next segment if the open
    /// one is full (and then applying the retention policy), and fdatasyncs per the policy.
    /// On a failure (ENOSPC: kNoSpace) the file is cut back to its last whole entry and the
    /// entries stay buffered, so a later flush may still write them. A segment retention cannot
    /// remove (kPermission, ...) is thrown after the entries were written.
    void flush();

    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }
    /// Segments the retention policy removed since this writer opened the archive, and their
    /// bytes (segments and indexes).
    [[nodiscard]] std::uint64_t segments_removed() const noexcept { return segments_removed_; }
    [[nodiscard]] std::uint64_t bytes_removed() const noexcept { return bytes_removed_; }
    /// Whether the open segment is full (or none is open) and the next flush starts one:
    /// a caller that wants segments near `segment_bytes` flushes now.
    [[nodiscard]] bool segment_pending() const noexcept { return next_segment_.has_value(); }
    /// Bytes of entries appended and not yet flushed.
    [[nodiscard]] std::size_t pending_bytes() const noexcept {
        return pending_.bytes.size() + pending_next_.bytes.size();
    }

  private:
    /// Entries appended and not yet written to one segment, and the index points among them.
    struct Buffered {
        std::vector<std::byte> bytes;
        std::vector<IndexEntry> index;
    };

    void recover();
    void write_out(Buffered& buffered);
    void open_last_segment(std::uint64_t first_sequence);
    void start_segment(std::uint64_t first_sequence);
    void append(EntryKind kind, std::uint64_t sequence, std::uint64_t timestamp_ns,
                std::uint16_t publisher, std::span<const std::byte> payload, std::uint64_t spans);
    void rewrite_index();

    std::filesystem::path dir_;
    std::string topic_name_;
    std::uint8_t topic_id_[16]{};
    WriterOptions options_;
    util::UniqueFd lock_fd_;

    util::UniqueFd segment_fd_;  // the segment being appended to, if any
    util::UniqueFd index_fd_;
    std::uint64_t segment_first_ = 0;
    std::uint64_t segment_written_ = 0;  // bytes of the segment handed to the kernel
    std::uint64_t index_written_ = 0;    // bytes of the index handed to the kernel
    std::uint64_t next_index_at_ = 0;    // the next entry at or after this offset is indexed
    Buffered pending_;                   // for the open segment
    std::optional<std::uint64_t> next_segment_;  // to start at the next flush, at this sequence
    Buffered pending_next_;                      // for it
    std::vector<IndexEntry> index_;              // the open segment's index, rebuilt at recovery

    std::optional<std::uint64_t> next_sequence_;
    std::uint64_t truncated_bytes_ = 0;
    std::string truncation_;
    std::uint64_t segments_removed_ = 0;
    std::uint64_t bytes_removed_ = 0;
};

}  // namespace shmbus::archive
