// A topic image: the bytes of a topic's two files, packed so that a fuzzer's mutations land on
// fields that matter, plus the choices the driver makes when it reads the topic.
//
// A real topic is mostly zeros (the 4096-byte headers are a few hundred bytes of fields, and the
// rest of a header page is reserved), so an image stores only the parts with meaning, in the
// order a reader depends on them, and fills the rest with zeros when it writes the files:
//
//   offset  bytes   what
//   ------  ------  --------------------------------------------------------------------------
//   0       32      DriverChoices: how the driver opens and reads the topic
//   32      448     records file bytes 0..447: RecordsHeader lines 0..6 (the rest of the
//                   header page is zero)
//   480     320     state file bytes 0..319: StateHeader lines 0..4
//   800     ...     body, in this order, each part as long as the records header's parameters
//                   make it: the ring (capacity bytes), the publisher slots (64 bytes each),
//                   the subscriber slots (128 bytes each), the publisher waits (64 bytes each).
//                   A body that ends early is padded with zeros.
//
// The files get the lengths that the declared parameters need, adjusted by the size deltas in
// DriverChoices (so truncated and overlong files are tried too). Parameters that fail
// check_parameters get a records file of header plus body, and a bare state header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace shmbus::fuzz {

/// What the driver does with a topic, stored at the front of an image.
struct DriverChoices {
    std::uint8_t start;            // % 4: latest, earliest, saved position, position + sequence
    std::uint8_t options;          // bit flags, below
    std::uint8_t polls;            // polls before and after publishing: 1 + polls % 4
    std::uint8_t limit;            // records per poll (0 allowed)
    std::int16_t records_delta;    // bytes added to the records file's proper length
    std::int16_t state_delta;      // bytes added to the state file's proper length
    std::uint64_t saved_position;  // for StartAt::position
    std::uint64_t saved_sequence;
    std::uint32_t offer_length;  // payload bytes the publisher offers (kOptionPublish)
    std::uint32_t reserved;
};
static_assert(sizeof(DriverChoices) == 32);

inline constexpr std::uint8_t kOptionCopy = 1u << 0;     // zero_copy = false
inline constexpr std::uint8_t kOptionPublish = 1u << 1;  // open for publishing; offer a record
inline constexpr std::uint8_t kOptionWait = 1u << 2;     // wait(0) after each poll
inline constexpr std::uint8_t kOptionPersist = 1u << 3;  // poll kPersistentPolls times
/// Enough polls for a subscriber stuck at an unwritten position to check whether a frame can
/// start there at all (Subscriber::kOrphanCheck empty polls), and then some.
inline constexpr int kPersistentPolls = 1100;

inline constexpr std::size_t kChoicesBytes = sizeof(DriverChoices);
inline constexpr std::size_t kRecordsHeaderBytes = 448;
inline constexpr std::size_t kStateHeaderBytes = 320;
inline constexpr std::size_t kBodyOffset = kChoicesBytes + kRecordsHeaderBytes + kStateHeaderBytes;

/// An image split into its parts. The spans point into the image's bytes.
struct TopicImage {
    DriverChoices choices{};
    std::span<const std::uint8_t> records_header;  // up to kRecordsHeaderBytes
    std::span<const std::uint8_t> state_header;    // up to kStateHeaderBytes
    std::span<const std::uint8_t> body;
};

/// Splits `bytes` into an image. Never fails: missing bytes read as zeros.
[[nodiscard]] TopicImage parse_topic_image(std::span<const std::uint8_t> bytes) noexcept;

/// What writing an image produced.
struct WrittenTopic {
    bool parameters_valid = false;  // the records header's parameters passed check_parameters
    std::uint64_t capacity = 0;     // the declared capacity, valid or not
};

/// Writes `image` as `<dir>/<name>/records` and `<dir>/<name>/state`, replacing what was
/// there. Sizes come from the declared parameters (sparse files: a large declared capacity
/// costs no memory). Throws std::system_error if the files cannot be written.
WrittenTopic write_topic_image(const TopicImage& image, const std::filesystem::path& topic_dir);

/// The image of the topic files at `topic_dir` (records and state), with `choices` in front.
/// Trailing zeros are left off. For the seed generator: the files must be a valid topic.
[[nodiscard]] std::vector<std::uint8_t> encode_topic_image(const std::filesystem::path& topic_dir,
                                                           const DriverChoices& choices);

}  // namespace shmbus::fuzz
