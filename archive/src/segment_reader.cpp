#include "shmbus/archive/segment_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shmbus/error.hpp"

namespace shmbus::archive {
namespace {

constexpr std::uint64_t kReadAhead = 1 << 20;
// The first read after a seek: one index stride, what a lookup scans at most.
constexpr std::uint64_t kSeekReadAhead = kIndexStride;

/// pread until `length` bytes or the end of the file; the bytes read.
std::uint64_t read_at(int fd, std::byte* out, std::uint64_t length, std::uint64_t offset,
                      const std::filesystem::path& path) {
    std::uint64_t done = 0;
    while (done < length) {
        const ssize_t n = ::pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw system_error("reading archive segment " + path.string());
        }
        if (n == 0) break;
        done += static_cast<std::uint64_t>(n);
    }
    return done;
}

std::uint64_t size_of(int fd, const std::filesystem::path& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw system_error("examining archive segment " + path.string());
    return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

std::string sequence_problem(const ScannedEntry& entry, std::uint64_t next, bool first_in_segment) {
    const std::uint64_t sequence = entry.header.sequence;
    if (first_in_segment ? sequence != next : sequence < next) {
        return "sequence " + std::to_string(sequence) + " where " +
               (first_in_segment ? "the segment's first, " : "at least ") + std::to_string(next) +
               ", was due";
    }
    if (entry.header.kind == static_cast<std::uint16_t>(EntryKind::kGap)) {
        const std::uint64_t count = sequences_of(entry.header, entry.payload);
        if (count == 0 || count > UINT64_MAX - sequence) {
            return "a gap of " + std::to_string(count) + " records at sequence " +
                   std::to_string(sequence);
        }
    }
    return "";
}

std::uint64_t sequence_after(const ScannedEntry& entry) noexcept {
    return entry.header.sequence + sequences_of(entry.header, entry.payload);
}

bool parse_segment_name(const std::string& name, std::uint64_t& first_sequence) {
    if (name.size() != 24 || !name.ends_with(".seg")) return false;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 20; ++i) {
        const char c = name[i];
        if (c < '0' || c > '9') return false;
        const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return false;
        value = value * 10 + digit;
    }
    first_sequence = value;
    return true;
}

SegmentReader::SegmentReader(std::filesystem::path path)
    : path_(std::move(path)), fd_(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) {
    const std::string file = "archive segment " + path_.string();
    if (!fd_) throw system_error("opening " + file);
    file_size_ = size_of(fd_.get(), path_);
    if (read_at(fd_.get(), reinterpret_cast<std::byte*>(&header_), sizeof header_, 0, path_) !=
        sizeof header_) {
        throw Error(ErrorCode::kFormat, file + ": shorter than a segment header (" +
                                            std::to_string(file_size_) + " bytes)");
    }
    if (header_.magic != kSegmentMagic) {
        throw Error(ErrorCode::kFormat, file + ": not a shmbus archive segment (bad magic)");
    }
    if (header_.version != kArchiveVersion) {
        throw Error(ErrorCode::kIncompatible,
                    file + ": archive format version " + std::to_string(header_.version) +
                        ", this shmbus reads version " + std::to_string(kArchiveVersion));
    }
    if (header_.header_size != kSegmentHeaderSize) {
        throw Error(ErrorCode::kFormat, file + ": header size " +
                                            std::to_string(header_.header_size) + ", expected " +
                                            std::to_string(kSegmentHeaderSize));
    }
    std::uint64_t named = 0;
    if (parse_segment_name(path_.filename().string(), named) && named != header_.first_sequence) {
        throw Error(ErrorCode::kFormat, file + ": its header says first sequence " +
                                            std::to_string(header_.first_sequence) + ", its name " +
                                            std::to_string(named));
    }
    header_.topic_name[kTopicNameField - 1] = '\0';
}

std::uint64_t SegmentReader::refresh_size() {
    file_size_ = size_of(fd_.get(), path_);
    // Bytes buffered past a shrunken end are no longer the file's.
    if (buffer_offset_ + buffer_length_ > file_size_) {
        buffer_length_ = file_size_ > buffer_offset_ ? file_size_ - buffer_offset_ : 0;
    }
    return file_size_;
}

bool SegmentReader::load(std::uint64_t offset, std::uint64_t length) {
    if (offset > file_size_ || length > file_size_ - offset) return false;
    if (offset >= buffer_offset_ && offset + length <= buffer_offset_ + buffer_length_) {
        return true;
    }
    // Reading on past the buffer (an entry it holds the start of, or the one after its end): a
    // whole read-ahead. Elsewhere (a seek, to an index point) a small first read, which is all
    // a lookup needs.
    const bool sequential = buffer_length_ != 0 && offset >= buffer_offset_ &&
                            offset <= buffer_offset_ + buffer_length_;
    const std::uint64_t ahead = sequential ? kReadAhead : kSeekReadAhead;
    const std::uint64_t want = std::min(std::max(length, ahead), file_size_ - offset);
    if (buffer_.size() < want) buffer_.resize(want);
    buffer_offset_ = offset;
    buffer_length_ = read_at(fd_.get(), buffer_.data(), want, offset, path_);
    return buffer_length_ >= length;
}

bool SegmentReader::all_zero(std::uint64_t offset, std::uint64_t length) {
    if (!load(offset, length)) return false;
    const std::byte* at = buffer_.data() + (offset - buffer_offset_);
    return std::all_of(at, at + length, [](std::byte b) { return b == std::byte{0}; });
}

ScannedEntry SegmentReader::read(std::uint64_t offset) {
    ScannedEntry entry;
    entry.offset = offset;
    if (offset < kSegmentHeaderSize || offset % kEntryAlignment != 0) {
        entry.status = EntryStatus::kCorrupt;
        entry.problem = "offset " + std::to_string(offset) + " is not an entry boundary";
        return entry;
    }
    if (offset == file_size_) {
        entry.status = EntryStatus::kEnd;
        return entry;
    }
    if (!load(offset, kEntryHeaderSize)) {
        entry.status = EntryStatus::kTorn;
        entry.problem = "the file ends inside an entry header";
        return entry;
    }
    std::memcpy(&entry.header, buffer_.data() + (offset - buffer_offset_), kEntryHeaderSize);
    const EntryHeader& header = entry.header;
    if (header.kind != static_cast<std::uint16_t>(EntryKind::kRecord) &&
        header.kind != static_cast<std::uint16_t>(EntryKind::kGap)) {
        entry.status = EntryStatus::kCorrupt;
        entry.problem = "unknown entry kind " + std::to_string(header.kind);
        return entry;
    }
    if (header.length > kMaxEntryPayload ||
        (header.kind == static_cast<std::uint16_t>(EntryKind::kGap) && header.length != 8)) {
        entry.status = EntryStatus::kCorrupt;
        entry.problem = "entry length " + std::to_string(header.length) + " is impossible";
        return entry;
    }
    entry.size = entry_size(header.length);
    if (!load(offset, entry.size)) {
        entry.status = EntryStatus::kTorn;
        entry.problem = "the file ends inside an entry of " + std::to_string(entry.size) + " bytes";
        return entry;
    }
    entry.payload = std::span<const std::byte>(
        buffer_.data() + (offset - buffer_offset_) + kEntryHeaderSize, header.length);
    if (entry_checksum(header, entry.payload) != header.checksum) {
        entry.status = EntryStatus::kCorrupt;
        entry.problem = "checksum mismatch";
        entry.payload = {};
        return entry;
    }
    entry.status = EntryStatus::kEntry;
    return entry;
}

std::vector<IndexEntry> SegmentReader::read_index(std::size_t max_entries) const {
    std::vector<IndexEntry> entries;
    std::filesystem::path index_path = path_;
    index_path.replace_extension(".idx");
    util::UniqueFd fd(::open(index_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return entries;
    const std::uint64_t size = size_of(fd.get(), index_path);
    IndexHeader header{};
    if (size < kIndexHeaderSize ||
        read_at(fd.get(), reinterpret_cast<std::byte*>(&header), sizeof header, 0, index_path) !=
            sizeof header ||
        header.magic != kIndexMagic || header.version != kArchiveVersion ||
        header.header_size != kIndexHeaderSize || header.first_sequence != header_.first_sequence) {
        return entries;
    }
    const std::uint64_t count =
        std::min<std::uint64_t>((size - kIndexHeaderSize) / sizeof(IndexEntry), max_entries);
    entries.resize(count);
    const std::uint64_t bytes = count * sizeof(IndexEntry);
    if (read_at(fd.get(), reinterpret_cast<std::byte*>(entries.data()), bytes, kIndexHeaderSize,
                index_path) != bytes) {
        entries.clear();
        return entries;
    }
    // Keep the prefix that can be true: offsets and sequences increasing, inside the segment.
    std::size_t good = 0;
    for (; good < entries.size(); ++good) {
        const IndexEntry& e = entries[good];
        const bool placed = e.offset >= kSegmentHeaderSize && e.offset % kEntryAlignment == 0 &&
                            e.offset < file_size_ && e.sequence >= header_.first_sequence;
        const bool ordered = good == 0 || (e.offset > entries[good - 1].offset &&
                                           e.sequence > entries[good - 1].sequence);
        if (!placed || !ordered) break;
    }
    entries.resize(good);
    return entries;
}

}  // namespace shmbus::archive
