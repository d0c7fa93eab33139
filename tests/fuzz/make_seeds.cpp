// Writes the seed corpus for shmbus_fuzz_topic_image: images of real topics, made with the
// public API (empty, with records, wrapped with padding, lapped in overwrite mode, with claims
// left pending by a publisher that is gone, with a subscriber attached), and damaged copies of
// them (a bad length, a stamp for the wrong position, a tail or floor out of place, a scribbled
// semaphore, bad headers, files of the wrong length).
//
//   shmbus_fuzz_seeds OUTPUT_DIR      (scripts/fuzz.sh --seeds runs it into the repository)
//
// The topic id, creation time, pids and attach times are replaced by fixed values, and the
// topics keep no timestamps, so the same build writes the same files every time.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/format/geometry.hpp>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/shmbus.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "topic_image.hpp"

namespace {

namespace fs = std::filesystem;
using shmbus::fuzz::DriverChoices;
using shmbus::fuzz::kChoicesBytes;
using shmbus::fuzz::kOptionCopy;
using shmbus::fuzz::kOptionPersist;
using shmbus::fuzz::kOptionPublish;
using shmbus::fuzz::kOptionWait;
using Image = std::vector<std::uint8_t>;

constexpr std::size_t kRecordsAt = kChoicesBytes;
constexpr std::size_t kStateAt = kChoicesBytes + shmbus::fuzz::kRecordsHeaderBytes;
constexpr std::size_t kRingAt = shmbus::fuzz::kBodyOffset;

constexpr DriverChoices choices(std::uint8_t start, std::uint8_t options, std::uint8_t limit = 16,
                                std::uint64_t position = 0, std::uint64_t sequence = 0) {
    return DriverChoices{start, options, 1, limit, 0, 0, position, sequence, 24, 0};
}
constexpr std::uint8_t kLatest = 0;
constexpr std::uint8_t kEarliest = 1;
constexpr std::uint8_t kPosition = 2;
constexpr std::uint8_t kPositionSequence = 3;

template <typename T>
void poke(Image& image, std::size_t offset, T value) {
    if (image.size() < offset + sizeof value) image.resize(offset + sizeof value);
    std::memcpy(image.data() + offset, &value, sizeof value);
}

template <typename T>
T peek(const Image& image, std::size_t offset) {
    T value{};
    if (offset + sizeof value <= image.size())
        std::memcpy(&value, image.data() + offset, sizeof value);
    return value;
}

/// A topic made through the public API in a directory of its own, then encoded as an image.
class Scenario {
  public:
    explicit Scenario(const shmbus::TopicOptions& options) {
        std::string pattern = (fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp") +
                              std::string("/shmbus-seeds-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
        dir_ = pattern;
        shmbus::TopicOptions fixed = options;
        fixed.timestamps = false;
        shmbus::create_topic(dir_, "t", fixed);
        topic_.emplace(shmbus::Topic::open(dir_, "t"));
    }
    ~Scenario() {
        topic_.reset();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    Scenario(const Scenario&) = delete;
    Scenario& operator=(const Scenario&) = delete;

    [[nodiscard]] const shmbus::Topic& topic() const { return *topic_; }

    /// The image of the files as they are now, with fixed values where time and pids go.
    [[nodiscard]] Image image(const DriverChoices& driver) const {
        Image image = shmbus::fuzz::encode_topic_image(dir_ / "t", driver);
        const auto& view = topic_->view();
        for (std::size_t i = 0; i < 16; ++i) {
            poke<std::uint8_t>(image,
                               kRecordsAt + offsetof(shmbus::format::RecordsHeader, topic_id) + i,
                               static_cast<std::uint8_t>(0xA0 + i));
            poke<std::uint8_t>(image,
                               kStateAt + offsetof(shmbus::format::StateHeader, topic_id) + i,
                               static_cast<std::uint8_t>(0xA0 + i));
        }
        poke<std::uint64_t>(image, kRecordsAt + offsetof(shmbus::format::RecordsHeader, created_ns),
                            1'700'000'000'000'000'000ull);
        const std::size_t publishers_at = kRingAt + view.capacity;
        for (std::uint32_t i = 0; i < view.max_publishers; ++i) {
            const std::size_t slot = publishers_at + i * sizeof(shmbus::format::PublisherSlot);
            if (peek<std::uint32_t>(image, slot) == shmbus::format::kSlotFree) continue;
            poke<std::uint32_t>(image, slot + offsetof(shmbus::format::PublisherSlot, pid), 4242);
            poke<std::uint64_t>(image, slot + offsetof(shmbus::format::PublisherSlot, attached_ns),
                                1);
        }
        const std::size_t subscribers_at =
            publishers_at + view.max_publishers * sizeof(shmbus::format::PublisherSlot);
        for (std::uint32_t i = 0; i < view.max_subscribers; ++i) {
            const std::size_t slot = subscribers_at + i * sizeof(shmbus::format::SubscriberSlot);
            if (peek<std::uint32_t>(image, slot + 8) == shmbus::format::kSlotFree) continue;
            poke<std::uint32_t>(image, slot + offsetof(shmbus::format::SubscriberSlot, pid), 4343);
            poke<std::uint64_t>(image, slot + offsetof(shmbus::format::SubscriberSlot, attached_ns),
                                1);
        }
        return image;
    }

  private:
    fs::path dir_;
    std::optional<shmbus::Topic> topic_;
};

void publish(shmbus::Publisher& publisher, std::uint32_t length, std::uint8_t fill) {
    std::vector<std::byte> record(length, std::byte{fill});
    const shmbus::Status status = publisher.try_offer(record);
    if (status != shmbus::Status::kOk) {
        throw std::runtime_error("seed publish: " + std::string(shmbus::to_string(status)));
    }
}

std::uint64_t drain(shmbus::Subscriber& subscriber) {
    std::uint64_t count = 0;
    while (subscriber.poll([&](const shmbus::Record&) { ++count; }).records > 0) {
    }
    return count;
}

class Writer {
  public:
    explicit Writer(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

    void write(const std::string& name, const Image& image) {
        std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(image.data()),
                  static_cast<std::streamsize>(image.size()));
        if (!out) throw std::runtime_error("writing " + (dir_ / name).string());
        total_ += image.size();
        ++count_;
    }
    void report() const {
        std::printf("wrote %zu seeds, %zu bytes, to %s\n", count_, total_, dir_.c_str());
    }

  private:
    fs::path dir_;
    std::size_t total_ = 0;
    std::size_t count_ = 0;
};

void write_seeds(Writer& out) {
    using shmbus::Policy;
    using shmbus::format::RecordsHeader;
    using shmbus::format::StateHeader;

    // An empty topic, the smallest there is.
    {
        Scenario s(
            {.capacity = 1024, .max_record_size = 128, .max_publishers = 1, .max_subscribers = 1});
        out.write("empty-block-latest", s.image(choices(kLatest, kOptionWait)));
        out.write("empty-block-publish", s.image(choices(kEarliest, kOptionPublish | kOptionWait)));
        out.write("empty-overwrite-publish", [&] {
            Image image = s.image(choices(kEarliest, kOptionPublish));
            poke<std::uint32_t>(image, kRecordsAt + offsetof(RecordsHeader, policy), 1);
            return image;
        }());
    }

    // Records of several lengths in a block topic, read in place and copied.
    {
        Scenario s(
            {.capacity = 4096, .max_record_size = 256, .max_publishers = 2, .max_subscribers = 2});
        shmbus::Publisher publisher(s.topic());
        for (std::uint32_t i = 0; i < 12; ++i)
            publish(publisher, (i * 37) % 257, static_cast<std::uint8_t>(i));
        // The first record is empty: the second frame starts one bare header in.
        const std::uint64_t second =
            shmbus::format::frame_size(0, shmbus::format::record_header_size(false));
        out.write("block-records-earliest", s.image(choices(kEarliest, 0)));
        out.write("block-records-copy", s.image(choices(kEarliest, kOptionCopy | kOptionWait)));
        out.write("block-records-position", s.image(choices(kPositionSequence, 0, 4, second, 1)));
        Image image = s.image(choices(kEarliest, kOptionPublish));
        // Damage: the second frame's length beyond max_record_size; the third's stamp names
        // another position; the tail and commit floor out of place.
        poke<std::uint32_t>(image, kRingAt + second + 8, 100'000);
        out.write("block-bad-length", image);
        image = s.image(choices(kEarliest, kOptionCopy));
        poke<std::uint32_t>(image, kRingAt + second + 8, 40);
        out.write("block-short-length-copy", image);
        image = s.image(choices(kEarliest, 0));
        poke<std::uint64_t>(
            image, kRingAt + second,
            shmbus::format::stamp(second + 4096, shmbus::format::FrameState::kCommitted));
        out.write("block-stamp-other-lap", image);
        image = s.image(choices(kEarliest, kOptionPublish));
        poke<std::uint64_t>(image, kRecordsAt + offsetof(RecordsHeader, tail), 3 * 4096 + 64);
        poke<std::uint64_t>(image, kRecordsAt + offsetof(RecordsHeader, commit_floor), 4096 + 8);
        out.write("block-tail-ahead", image);
        image[offsetof(DriverChoices, options)] = kOptionPersist | kOptionCopy;
        out.write("block-tail-ahead-persist", image);
        image[offsetof(DriverChoices, options)] = kOptionPersist;
        out.write("block-tail-ahead-persist-in-place", image);
        image = s.image(choices(kPosition, kOptionCopy, 8, 8));
        out.write("block-position-not-boundary", image);
    }

    // A block topic whose ring has wrapped: WRAP frames and padding from an aborted claim.
    {
        Scenario s(
            {.capacity = 1024, .max_record_size = 200, .max_publishers = 2, .max_subscribers = 2});
        shmbus::Subscriber reader(s.topic());
        shmbus::Publisher publisher(s.topic());
        for (std::uint32_t i = 0; i < 30; ++i) {
            publish(publisher, 60 + (i * 53) % 140, static_cast<std::uint8_t>(i));
            if (i == 17) {
                shmbus::Claim claim = publisher.try_claim(90);
                claim.abort();
            }
            drain(reader);
        }
        out.write("block-wrapped-earliest", s.image(choices(kEarliest, kOptionWait)));
        out.write("block-wrapped-copy-publish",
                  s.image(choices(kEarliest, kOptionCopy | kOptionPublish, 64)));
        // A claim left pending by a publisher that is gone by the time the image is read.
        shmbus::Claim pending = publisher.try_claim(40);
        out.write("block-pending-claim", s.image(choices(kEarliest, kOptionPublish | kOptionWait)));
        out.write("block-pending-claim-persist",
                  s.image(choices(kEarliest, kOptionPersist | kOptionCopy)));
        pending.abort();
        // A subscriber attached and asleep, and a publisher marked blocked whose semaphore was
        // scribbled.
        Image image = s.image(choices(kLatest, kOptionPublish | kOptionWait));
        poke<std::uint64_t>(image, kStateAt + offsetof(StateHeader, blocked_publishers), 0b11);
        poke<std::uint64_t>(image, kStateAt + offsetof(StateHeader, sleeping_subscribers), 0b11);
        const std::size_t waits_at = kRingAt + 1024 + 2 * 64 + 2 * 128;
        poke<std::uint64_t>(image, waits_at, 0xffff'ffff'ffff'ffffull);
        poke<std::uint32_t>(image, waits_at + 64 + 8, 128);
        poke<std::uint64_t>(image, waits_at + 64, 0x0000'0001'0000'0003ull);
        out.write("block-scribbled-semaphores", image);
    }

    // An overwrite topic lapped many times, read from the oldest intact record and from a
    // saved position the ring has moved past.
    {
        Scenario s({.capacity = 1024,
                    .max_record_size = 128,
                    .max_publishers = 3,
                    .max_subscribers = 2,
                    .policy = Policy::kOverwrite});
        shmbus::Publisher publisher(s.topic());
        for (std::uint32_t i = 0; i < 60; ++i)
            publish(publisher, (i * 29) % 129, static_cast<std::uint8_t>(i));
        out.write("overwrite-lapped-earliest", s.image(choices(kEarliest, kOptionWait, 8)));
        out.write("overwrite-lapped-saved", s.image(choices(kPositionSequence, 0, 255, 0, 0)));
        out.write("overwrite-lapped-publish", s.image(choices(kEarliest, kOptionPublish, 3)));
        Image image = s.image(choices(kEarliest, 0));
        // The floor a lap behind and a zeroed stretch in the middle of the ring.
        poke<std::uint64_t>(image, kRecordsAt + offsetof(RecordsHeader, commit_floor), 8);
        for (std::size_t i = 256; i < 512; i += 8)
            poke<std::uint64_t>(image, kRingAt + i, 0);
        out.write("overwrite-holes", image);
    }

    // Subscribers attached in the image: stat reads their slots, and a publisher's limit counts
    // them (one holds the ring full).
    {
        Scenario s(
            {.capacity = 2048, .max_record_size = 100, .max_publishers = 2, .max_subscribers = 3});
        shmbus::Subscriber stalled(s.topic(), {.start = shmbus::StartAt::earliest()});
        shmbus::Subscriber evicted(s.topic(), {.start = shmbus::StartAt::earliest()});
        shmbus::Publisher publisher(s.topic());
        for (std::uint32_t i = 0; i < 14; ++i)
            publish(publisher, 100, static_cast<std::uint8_t>(i));
        Image image = s.image(choices(kEarliest, kOptionPublish | kOptionWait, 4));
        const std::size_t subscribers_at = kRingAt + 2048 + 2 * 64;
        poke<std::uint32_t>(image, subscribers_at + 128 + 8, shmbus::format::kSlotEvicted);
        out.write("block-full-subscribers", image);
        poke<std::uint64_t>(image, subscribers_at, 0xdead'beef'0000'0000ull);
        poke<std::uint64_t>(image, subscribers_at + 128, 7);
        out.write("block-subscriber-positions-garbage", image);
    }

    // Headers and file lengths that the validator must refuse.
    {
        Scenario s(
            {.capacity = 1024, .max_record_size = 64, .max_publishers = 1, .max_subscribers = 1});
        shmbus::Publisher publisher(s.topic());
        publish(publisher, 10, 1);
        const auto damaged = [&](const std::string& name,
                                 const std::function<void(Image&)>& damage) {
            Image image = s.image(choices(kEarliest, kOptionPublish));
            damage(image);
            out.write(name, image);
        };
        damaged("header-bad-magic", [](Image& i) { poke<std::uint8_t>(i, kRecordsAt, 0); });
        damaged("header-version-next", [](Image& i) {
            poke<std::uint32_t>(i, kRecordsAt + offsetof(RecordsHeader, format_version),
                                shmbus::format::kFormatVersion + 1);
        });
        damaged("header-capacity-not-power", [](Image& i) {
            poke<std::uint64_t>(i, kRecordsAt + offsetof(RecordsHeader, capacity), 1536);
        });
        damaged("header-capacity-huge", [](Image& i) {
            poke<std::uint64_t>(i, kRecordsAt + offsetof(RecordsHeader, capacity), 1ull << 30);
            poke<std::uint64_t>(i, kRecordsAt + offsetof(RecordsHeader, file_size),
                                8192 + (1ull << 30));
        });
        damaged("header-max-record-too-big", [](Image& i) {
            poke<std::uint32_t>(i, kRecordsAt + offsetof(RecordsHeader, max_record_size), 300);
        });
        damaged("header-name-unterminated", [](Image& i) {
            for (std::size_t c = 0; c < 64; ++c) {
                poke<char>(i, kRecordsAt + offsetof(RecordsHeader, name) + c, 'x');
            }
        });
        damaged("records-truncated", [](Image& i) { poke<std::int16_t>(i, 4, -8); });
        damaged("state-overlong", [](Image& i) { poke<std::int16_t>(i, 6, 4096); });
        damaged("state-other-topic", [](Image& i) {
            poke<std::uint8_t>(i, kStateAt + offsetof(StateHeader, topic_id), 0);
        });
        damaged("state-layout-mismatch", [](Image& i) {
            poke<std::uint32_t>(i, kStateAt + offsetof(StateHeader, max_subscribers), 2);
        });
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    try {
        Writer out{fs::path(argv[1])};
        write_seeds(out);
        out.report();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "shmbus_fuzz_seeds: %s\n", error.what());
        return 1;
    }
    return 0;
}
