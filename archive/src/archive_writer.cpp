#include "shmbus/archive/archive_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shmbus/archive/segment_reader.hpp"
#include "shmbus/archive/writer_lock.hpp"
#include "shmbus/detail/util/record_clock.hpp"
#include "shmbus/error.hpp"

namespace shmbus::archive {
namespace {

/// pwrite all of `bytes` at `offset`; false with errno set on failure.
bool write_all(int fd, std::span<const std::byte> bytes, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

template <typename T>
std::span<const std::byte> bytes_of(const T& value) {
    return std::as_bytes(std::span<const T, 1>(&value, 1));
}

std::uint64_t next_stride(std::uint64_t offset) {
    return (offset / kIndexStride + 1) * kIndexStride;
}

std::string hex(const std::uint8_t (&id)[16]) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (const std::uint8_t byte : id) {
        out += kDigits[byte >> 4];
        out += kDigits[byte & 15];
    }
    return out;
}

}  // namespace

ArchiveWriter::ArchiveWriter(std::filesystem::path dir, std::string_view topic_name,
                             std::span<const std::uint8_t, 16> topic_id, WriterOptions options)
    : dir_(std::move(dir)), topic_name_(topic_name), options_(options) {
    if (topic_name_.size() >= kTopicNameField) {
        throw Error(ErrorCode::kInvalidArgument, "topic name too long for an archive");
    }
    if (options_.segment_bytes < kSegmentHeaderSize + kEntryHeaderSize) {
        throw Error(
            ErrorCode::kInvalidArgument,
            "archive segment size " + std::to_string(options_.segment_bytes) + " is too small");
    }
    std::copy(topic_id.begin(), topic_id.end(), topic_id_);
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw system_error("creating archive directory " + dir_.string(), ec.value());
    lock_fd_ = acquire_writer_lock(dir_);
    recover();
}

ArchiveWriter::~ArchiveWriter() {
    try {
        flush();
    } catch (...) {
        // Nothing to report to from a destructor: the next open recovers the tail.
    }
}

void ArchiveWriter::recover() {
    std::vector<std::uint64_t> firsts;
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(dir_, ec)) {
        std::uint64_t first = 0;
        if (parse_segment_name(item.path().filename().string(), first)) firsts.push_back(first);
    }
    if (ec) throw system_error("listing archive directory " + dir_.string(), ec.value());
    std::sort(firsts.begin(), firsts.end());
    // A segment shorter than its header was being created when its writer died: it holds
    // nothing, and goes.
    while (!firsts.empty()) {
        const std::filesystem::path path = dir_ / segment_file_name(firsts.back());
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) throw system_error("examining " + path.string());
        if (static_cast<std::uint64_t>(st.st_size) >= kSegmentHeaderSize) break;
        if (::unlink(path.c_str()) != 0) throw system_error("removing " + path.string());
        ::unlink((dir_ / index_file_name(firsts.back())).c_str());
        firsts.pop_back();
    }
    if (firsts.empty()) return;
    open_last_segment(firsts.back());
    if (segment_written_ == kSegmentHeaderSize) {
        // No entry yet: the segment's name may not be the sequence its first entry will have
        // (a gap may come first). It goes, and the first append starts the right one. The
        // sequences before its name are the previous segment's, if there is one.
        const std::filesystem::path path = dir_ / segment_file_name(segment_first_);
        segment_fd_.reset();
        index_fd_.reset();
        if (::unlink(path.c_str()) != 0) throw system_error("removing " + path.string());
        ::unlink((dir_ / index_file_name(segment_first_)).c_str());
        if (firsts.size() == 1) next_sequence_.reset();
    }
}

void ArchiveWriter::open_last_segment(std::uint64_t first_sequence) {
    const std::filesystem::path path = dir_ / segment_file_name(first_sequence);
    SegmentReader reader(path);
    if (std::memcmp(reader.header().topic_id, topic_id_, sizeof topic_id_) != 0) {
        std::uint8_t theirs[16];
        std::memcpy(theirs, reader.header().topic_id, sizeof theirs);
        throw Error(ErrorCode::kInvalidArgument,
                    "archive " + dir_.string() + " records topic '" + reader.header().topic_name +
                        "' with id " + hex(theirs) + ", not this topic '" + topic_name_ + "' (id " +
                        hex(topic_id_) +
                        "); a topic created again is a new topic: record it into another "
                        "directory");
    }
    // Rescan from the last index point that holds what it says (the index is derived data, and
    // may be short, lag the segment, or be wrong: it is rebuilt from what the scan finds).
    index_ = reader.read_index();
    while (!index_.empty()) {
        const ScannedEntry point = reader.read(index_.back().offset);
        if (point.status == EntryStatus::kEntry &&
            point.header.sequence == index_.back().sequence) {
            break;
        }
        index_.pop_back();
    }
    std::uint64_t offset = kSegmentHeaderSize;
    std::uint64_t next = first_sequence;
    if (!index_.empty()) {
        offset = index_.back().offset;
        next = index_.back().sequence;
        index_.pop_back();
    }
    next_index_at_ = index_.empty() ? 0 : next_stride(index_.back().offset);
    for (;;) {
        const ScannedEntry entry = reader.read(offset);
        if (entry.status == EntryStatus::kEnd) break;
        std::string problem = entry.problem;
        if (entry.status == EntryStatus::kEntry) {
            problem = sequence_problem(entry, next, offset == kSegmentHeaderSize);
        }
        if (!problem.empty()) {
            truncated_bytes_ = reader.file_size() - offset;
            truncation_ = problem + " at offset " + std::to_string(offset) + " of " +
                          path.filename().string();
            break;
        }
        if (offset >= next_index_at_) {
            index_.push_back({entry.header.sequence, offset, entry.header.timestamp_ns});
            next_index_at_ = next_stride(offset);
        }
        next = sequence_after(entry);
        offset += entry.size;
    }
    segment_fd_.reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!segment_fd_) throw system_error("opening " + path.string() + " for appending");
    if (truncated_bytes_ > 0 && ::ftruncate(segment_fd_.get(), static_cast<off_t>(offset)) != 0) {
        throw system_error("cutting the torn tail off " + path.string());
    }
    segment_first_ = first_sequence;
    segment_written_ = offset;
    next_sequence_ = next;
    rewrite_index();
}

void ArchiveWriter::rewrite_index() {
    const std::filesystem::path path = dir_ / index_file_name(segment_first_);
    index_fd_.reset(
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!index_fd_) throw system_error("opening " + path.string());
    IndexHeader header{kIndexMagic, kArchiveVersion, kIndexHeaderSize, segment_first_, 0};
    if (!write_all(index_fd_.get(), bytes_of(header), 0) ||
        !write_all(index_fd_.get(), std::as_bytes(std::span(index_)), kIndexHeaderSize)) {
        throw system_error("writing " + path.string());
    }
    index_written_ = kIndexHeaderSize + index_.size() * sizeof(IndexEntry);
}

void ArchiveWriter::start_segment(std::uint64_t first_sequence) {
    const std::filesystem::path path = dir_ / segment_file_name(first_sequence);
    util::UniqueFd fd(
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) throw system_error("creating archive segment " + path.string());
    SegmentHeader header{};
    header.magic = kSegmentMagic;
    header.version = kArchiveVersion;
    header.header_size = kSegmentHeaderSize;
    std::memcpy(header.topic_id, topic_id_, sizeof topic_id_);
    header.first_sequence = first_sequence;
    header.created_ns = util::realtime_ns();
    std::memcpy(header.topic_name, topic_name_.data(), topic_name_.size());
    if (!write_all(fd.get(), bytes_of(header), 0)) {
        const int error = errno;
        ::unlink(path.c_str());
        throw system_error("writing archive segment " + path.string(), error);
    }
    segment_fd_ = std::move(fd);
    segment_first_ = first_sequence;
    segment_written_ = kSegmentHeaderSize;
    index_.clear();
    rewrite_index();
    if (options_.sync == SyncPolicy::kEveryFlush) {
        // The new names must survive a power loss too.
        util::UniqueFd directory(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (directory) (void)::fsync(directory.get());
    }
}

void ArchiveWriter::append_record(std::uint64_t sequence, std::uint64_t timestamp_ns,
                                  std::uint16_t publisher, std::span<const std::byte> payload) {
    append(EntryKind::kRecord, sequence, timestamp_ns, publisher, payload, 1);
}

void ArchiveWriter::append_gap(std::uint64_t first_sequence, std::uint64_t count,
                               std::uint64_t timestamp_ns) {
    if (count == 0) return;
    append(EntryKind::kGap, first_sequence, timestamp_ns, 0, bytes_of(count), count);
}

void ArchiveWriter::append(EntryKind kind, std::uint64_t sequence, std::uint64_t timestamp_ns,
                           std::uint16_t publisher, std::span<const std::byte> payload,
                           std::uint64_t spans) {
    if (next_sequence_ && sequence < *next_sequence_) {
        throw Error(ErrorCode::kInvalidArgument, "archive " + dir_.string() + ": sequence " +
                                                     std::to_string(sequence) + " comes after " +
                                                     std::to_string(*next_sequence_ - 1));
    }
    if (payload.size() > kMaxEntryPayload || spans > UINT64_MAX - sequence) {
        throw Error(ErrorCode::kInvalidArgument,
                    "archive " + dir_.string() + ": an entry of " + std::to_string(payload.size()) +
                        " bytes spanning " + std::to_string(spans) + " sequences from " +
                        std::to_string(sequence) + " does not fit the format");
    }
    // A full (or no) open segment: this entry starts the next one, made by the next flush.
    if (!next_segment_ &&
        (!segment_fd_ || segment_written_ + pending_.bytes.size() >= options_.segment_bytes)) {
        next_segment_ = sequence;
        next_index_at_ = 0;
    }
    Buffered& into = next_segment_ ? pending_next_ : pending_;
    const std::uint64_t offset =
        (next_segment_ ? kSegmentHeaderSize : segment_written_) + into.bytes.size();
    EntryHeader header{};
    header.length = static_cast<std::uint32_t>(payload.size());
    header.kind = static_cast<std::uint16_t>(kind);
    header.publisher = publisher;
    header.sequence = sequence;
    header.timestamp_ns = timestamp_ns;
    header.checksum = entry_checksum(header, payload);
    const std::size_t at = into.bytes.size();
    into.bytes.resize(at + entry_size(payload.size()), std::byte{0});  // zeros: the padding
    std::memcpy(into.bytes.data() + at, &header, sizeof header);
    if (!payload.empty()) {
        std::memcpy(into.bytes.data() + at + sizeof header, payload.data(), payload.size());
    }
    if (offset >= next_index_at_) {
        into.index.push_back({sequence, offset, timestamp_ns});
        next_index_at_ = next_stride(offset);
    }
    next_sequence_ = sequence + spans;
}

void ArchiveWriter::flush() {
    if (segment_fd_) write_out(pending_);
    if (next_segment_) {
        start_segment(*next_segment_);
        next_segment_.reset();
        pending_ = std::move(pending_next_);
        pending_next_ = {};
        write_out(pending_);
        // The segment just closed is no longer the last: retention may now remove it, or
        // older ones.
        if (options_.retention.limits()) {
            const RetentionResult removed =
                apply_retention(dir_, options_.retention, util::realtime_ns());
            for (const RemovedSegment& segment : removed.removed) {
                ++segments_removed_;
                bytes_removed_ += segment.bytes;
            }
        }
    }
}

void ArchiveWriter::write_out(Buffered& buffered) {
    const bool sync = options_.sync == SyncPolicy::kEveryFlush;
    const std::filesystem::path segment = dir_ / segment_file_name(segment_first_);
    if (!buffered.bytes.empty()) {
        if (!write_all(segment_fd_.get(), buffered.bytes, segment_written_)) {
            const int error = errno;
            // Leave the file ending at its last whole entry; the entries stay buffered.
            (void)::ftruncate(segment_fd_.get(), static_cast<off_t>(segment_written_));
            throw system_error("writing archive segment " + segment.string(), error);
        }
        // The data on disk before an index that points into it.
        if (sync && ::fdatasync(segment_fd_.get()) != 0) {
            throw system_error("syncing archive segment " + segment.string());
        }
        segment_written_ += buffered.bytes.size();
        buffered.bytes.clear();
    }
    if (!buffered.index.empty()) {
        const std::filesystem::path index = dir_ / index_file_name(segment_first_);
        if (!write_all(index_fd_.get(), std::as_bytes(std::span(buffered.index)), index_written_)) {
            const int error = errno;
            (void)::ftruncate(index_fd_.get(), static_cast<off_t>(index_written_));
            throw system_error("writing archive index " + index.string(), error);
        }
        if (sync && ::fdatasync(index_fd_.get()) != 0) {
            throw system_error("syncing archive index " + index.string());
        }
        index_written_ += buffered.index.size() * sizeof(IndexEntry);
        buffered.index.clear();
    }
}

}  // namespace shmbus::archive
