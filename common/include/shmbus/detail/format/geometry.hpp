// Where everything sits in a topic's two files, computed from the layout parameters alone.
//
// A file is accepted only if every offset and size in its header equals what this computes from
// the parameters it declares, and the file on disk is exactly that long. Nothing else in shmbus
// trusts an offset read from a file: it uses the offsets computed here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/detail/format/state_layout.hpp"

namespace shmbus::format {

inline constexpr std::uint64_t kMinCapacity = 1024;
inline constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 40;
inline constexpr std::uint32_t kMaxRecordLimit = std::uint32_t{1} << 30;

/// Everything that fixes a topic's layout. Stored in the records header.
struct TopicParameters {
    std::uint64_t capacity = 0;
    std::uint32_t max_record_size = 0;
    std::uint32_t max_publishers = 0;
    std::uint32_t max_subscribers = 0;
    Policy policy = Policy::kBlock;
    std::uint32_t flags = 0;

    friend bool operator==(const TopicParameters&, const TopicParameters&) = default;
};

struct Geometry {
    std::uint64_t publisher_slots_offset;
    std::uint64_t ring_offset;
    std::uint64_t records_file_size;
    std::uint64_t subscriber_slots_offset;
    std::uint64_t publisher_waits_offset;
    std::uint64_t state_file_size;
};

/// Why `parameters` cannot describe a topic, or nullopt if they can. The rules:
///   capacity        a power of two in [kMinCapacity, kMaxCapacity]
///   max record      frame_size(max record) <= capacity / 4, and <= kMaxRecordLimit
///   publishers      1 .. kMaxPublishers
///   subscribers     1 .. kMaxSubscribers
///   policy, flags   known values only
[[nodiscard]] std::optional<std::string> check_parameters(const TopicParameters& parameters);

/// The layout of valid parameters (check_parameters returned nullopt).
[[nodiscard]] Geometry compute_geometry(const TopicParameters& parameters) noexcept;

/// The parameters a records header declares. Unchecked: pass them to check_parameters.
[[nodiscard]] TopicParameters parameters_of(const RecordsHeader& header) noexcept;

/// Why `header`, read from a records file of `file_size` bytes, cannot be used, or nullopt.
/// Checks magic, version, parameters, every offset, and the file's length.
[[nodiscard]] std::optional<std::string> check_records_header(const RecordsHeader& header,
                                                              std::uint64_t file_size);

/// Why `header`, read from a state file of `file_size` bytes, does not pair with the records
/// header `records` (already checked), or nullopt.
[[nodiscard]] std::optional<std::string> check_state_header(const StateHeader& header,
                                                            std::uint64_t file_size,
                                                            const RecordsHeader& records);

}  // namespace shmbus::format
