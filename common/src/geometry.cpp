#include "shmbus/detail/format/geometry.hpp"

#include <bit>
#include <cstring>
#include <string>

#include "shmbus/detail/format/frame_header.hpp"
#include "shmbus/detail/format/publisher_slot.hpp"

namespace shmbus::format {
namespace {

constexpr std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) {
    return (value + unit - 1) / unit * unit;
}

std::string number(std::uint64_t value) {
    return std::to_string(value);
}

}  // namespace

std::optional<std::string> check_parameters(const TopicParameters& p) {
    if (p.capacity < kMinCapacity || p.capacity > kMaxCapacity ||
        !std::has_single_bit(p.capacity)) {
        return "capacity " + number(p.capacity) + " is not a power of two between " +
               number(kMinCapacity) + " and " + number(kMaxCapacity) + " bytes";
    }
    const std::uint64_t header_size = record_header_size((p.flags & kFlagTimestamps) != 0);
    if (p.max_record_size > kMaxRecordLimit ||
        frame_size(p.max_record_size, header_size) > p.capacity / 4) {
        return "max record size " + number(p.max_record_size) + " is too large for capacity " +
               number(p.capacity) +
               " (a record's frame, header included, may take at most a "
               "quarter of the ring: at most " +
               number(p.capacity / 4 - header_size) + " bytes here)";
    }
    if (p.max_publishers < 1 || p.max_publishers > kMaxPublishers) {
        return "max publishers " + number(p.max_publishers) + " is not between 1 and " +
               number(kMaxPublishers);
    }
    if (p.max_subscribers < 1 || p.max_subscribers > kMaxSubscribers) {
        return "max subscribers " + number(p.max_subscribers) + " is not between 1 and " +
               number(kMaxSubscribers);
    }
    if (p.policy != Policy::kBlock && p.policy != Policy::kOverwrite) {
        return "policy " + number(static_cast<std::uint32_t>(p.policy)) + " is unknown";
    }
    if ((p.flags & ~kKnownFlags) != 0) {
        return "flags 0x" + number(p.flags) + " include bits this version does not know";
    }
    return std::nullopt;
}

Geometry compute_geometry(const TopicParameters& p) noexcept {
    Geometry g{};
    g.publisher_slots_offset = kHeaderSize;
    g.ring_offset =
        round_up(g.publisher_slots_offset + std::uint64_t{p.max_publishers} * sizeof(PublisherSlot),
                 kPageSize);
    g.records_file_size = g.ring_offset + p.capacity;
    g.subscriber_slots_offset = kHeaderSize;
    g.publisher_waits_offset =
        g.subscriber_slots_offset + std::uint64_t{p.max_subscribers} * sizeof(SubscriberSlot);
    g.state_file_size =
        round_up(g.publisher_waits_offset + std::uint64_t{p.max_publishers} * sizeof(PublisherWait),
                 kPageSize);
    return g;
}

TopicParameters parameters_of(const RecordsHeader& h) noexcept {
    TopicParameters p;
    p.capacity = h.capacity;
    p.max_record_size = h.max_record_size;
    p.max_publishers = h.max_publishers;
    p.max_subscribers = h.max_subscribers;
    p.policy = static_cast<Policy>(h.policy);
    p.flags = h.flags;
    return p;
}

std::optional<std::string> check_records_header(const RecordsHeader& h, std::uint64_t file_size) {
    if (h.magic != kRecordsMagic) return std::string("not a shmbus records file (wrong magic)");
    if (h.format_version != kFormatVersion) {
        return "format version " + number(h.format_version) + ", but this build reads version " +
               number(kFormatVersion);
    }
    if (h.header_size != kHeaderSize) {
        return "header size " + number(h.header_size) + " (expected " + number(kHeaderSize) + ")";
    }
    const TopicParameters p = parameters_of(h);
    if (auto problem = check_parameters(p)) return "inconsistent parameters: " + *problem;
    const Geometry g = compute_geometry(p);
    if (h.publisher_slots_offset != g.publisher_slots_offset || h.ring_offset != g.ring_offset) {
        return std::string("inconsistent offsets in the header");
    }
    if (h.file_size != g.records_file_size) {
        return "header declares " + number(h.file_size) + " bytes but its parameters need " +
               number(g.records_file_size);
    }
    if (file_size < g.records_file_size) {
        return "truncated: " + number(file_size) + " bytes on disk, " +
               number(g.records_file_size) + " expected";
    }
    if (file_size > g.records_file_size) {
        return "file is " + number(file_size) + " bytes, " + number(g.records_file_size) +
               " expected";
    }
    if (std::memchr(h.name, '\0', sizeof h.name) == nullptr) {
        return std::string("topic name field is not terminated");
    }
    return std::nullopt;
}

std::optional<std::string> check_state_header(const StateHeader& h, std::uint64_t file_size,
                                              const RecordsHeader& records) {
    if (h.magic != kStateMagic) return std::string("not a shmbus state file (wrong magic)");
    if (h.format_version != kFormatVersion) {
        return "format version " + number(h.format_version) + ", but this build reads version " +
               number(kFormatVersion);
    }
    if (h.header_size != kHeaderSize) {
        return "header size " + number(h.header_size) + " (expected " + number(kHeaderSize) + ")";
    }
    if (std::memcmp(h.topic_id, records.topic_id, sizeof h.topic_id) != 0) {
        return std::string("belongs to a different topic instance than the records file");
    }
    const Geometry g = compute_geometry(parameters_of(records));
    if (h.max_subscribers != records.max_subscribers ||
        h.max_publishers != records.max_publishers ||
        h.subscriber_slots_offset != g.subscriber_slots_offset ||
        h.publisher_waits_offset != g.publisher_waits_offset || h.file_size != g.state_file_size) {
        return std::string("layout does not match the records file");
    }
    if (file_size != g.state_file_size) {
        return (file_size < g.state_file_size ? "truncated: " : "wrong size: ") +
               number(file_size) + " bytes on disk, " + number(g.state_file_size) + " expected";
    }
    return std::nullopt;
}

}  // namespace shmbus::format
