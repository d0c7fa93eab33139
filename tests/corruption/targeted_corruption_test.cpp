// Damage in chosen places of a topic's files, and what a subscriber makes of it: it reports the
// damage (Status::kCorrupt, corrupt()) or skips what it cannot trust, keeps delivering the
// records that are intact, and never crashes, hangs or hands out bytes outside the ring.
//
// Subscribers map the records file read-only; the damage is done through a second, writable
// mapping, as another process with write access would do it.
#include <doctest/doctest.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <shmbus/detail/format/frame_header.hpp>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/detail/ring/unblocker.hpp>
#include <shmbus/detail/util/atomic.hpp>
#include <shmbus/shmbus.hpp>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::format::frame_size;
using shmbus::format::FrameHeader;
using shmbus::format::FrameState;
using shmbus::format::stamp;

constexpr std::uint64_t kCapacity = 4096;
constexpr std::uint32_t kMax = 256;
constexpr std::uint64_t kRecords = 10;

// A topic holding records 0..9 (lengths from support/payload), a subscriber that attached
// before they were published (so a block topic hands them over in place), and a writable view
// to damage them through.
struct Damaged {
    shmbus::test::BusDirectory bus;
    shmbus::Topic writable;  // Access::kPublish: the ring mapped read-write
    shmbus::Topic readable;  // Access::kSubscribe: what the subscriber maps, read-only
    shmbus::Publisher publisher;
    shmbus::Subscriber subscriber;
    std::vector<std::uint64_t> positions;  // of records 0..9

    explicit Damaged(shmbus::Policy policy, bool zero_copy = true)
        : writable(shmbus::test::create_and_open(
              bus, {.capacity = kCapacity, .max_record_size = kMax, .policy = policy})),
          readable(shmbus::Topic::open(bus.path(), "t", {.access = shmbus::Access::kSubscribe})),
          publisher(writable),
          subscriber(readable, {.start = shmbus::StartAt::latest(), .zero_copy = zero_copy}) {
        for (std::uint64_t i = 0; i < kRecords; ++i)
            publish(i);
    }

    void publish(std::uint64_t counter) {
        REQUIRE_MESSAGE(try_publish(counter, 0ns) == Status::kOk, "record " << counter);
    }

    // Waits up to `timeout` while back-pressured (and so repairs what holds publishers back).
    Status try_publish(std::uint64_t counter, std::chrono::nanoseconds timeout) {
        const std::uint32_t length = shmbus::test::record_length(0, counter, kMax);
        shmbus::Claim claim =
            timeout.count() == 0 ? publisher.try_claim(length) : publisher.claim(length, timeout);
        if (!claim) return claim.status();
        shmbus::test::fill_record(claim.payload(), 0, counter);
        positions.push_back(claim.position());
        return claim.commit();
    }

    [[nodiscard]] const shmbus::ring::TopicView& view() const { return writable.view(); }
    [[nodiscard]] FrameHeader& header(std::uint64_t counter) const {
        return view().header(positions.at(counter));
    }
    [[nodiscard]] std::uint64_t& commit_word(std::uint64_t counter) const {
        return view().commit_word(positions.at(counter));
    }

    struct Reading {
        std::vector<std::uint64_t> counters;  // of the intact records delivered, in order
        std::size_t damaged_deliveries = 0;   // records delivered that are not what was sent
        bool saw_corrupt_status = false;
        bool saw_other_status = false;
    };

    // Polls until nothing more comes, checking every record it is handed.
    Reading read() {
        Reading reading;
        const auto* ring_begin = readable.view().ring;
        const auto* ring_end = ring_begin + kCapacity;
        for (int round = 0; round < 64; ++round) {
            const std::uint64_t before = subscriber.position();
            const shmbus::PollResult result = subscriber.poll([&](const shmbus::Record& record) {
                REQUIRE(record.payload.size() <= kMax);
                if (subscriber.topic().policy() == shmbus::Policy::kBlock &&
                    record.payload.data() >= ring_begin && record.payload.data() < ring_end) {
                    REQUIRE(record.payload.data() + record.payload.size() <= ring_end);
                }
                // A record is intact if it is, byte for byte, the one published at its position.
                const auto published =
                    std::find(positions.begin(), positions.end(), record.position);
                const auto counter = static_cast<std::uint64_t>(published - positions.begin());
                if (published != positions.end() &&
                    !shmbus::test::check_record(record.payload, 0, counter, kMax)) {
                    reading.counters.push_back(counter);
                } else {
                    ++reading.damaged_deliveries;
                }
            });
            if (result.status == Status::kCorrupt)
                reading.saw_corrupt_status = true;
            else if (result.status != Status::kOk)
                reading.saw_other_status = true;
            if (result.records == 0 && subscriber.position() == before) break;
        }
        return reading;
    }
};

std::vector<std::uint64_t> all_but(std::uint64_t skipped) {
    std::vector<std::uint64_t> counters;
    for (std::uint64_t i = 0; i < kRecords; ++i) {
        if (i != skipped) counters.push_back(i);
    }
    return counters;
}

// Runs `check` for a subscriber reading in place (block) and one copying (overwrite).
template <typename Check>
void in_both_modes(Check&& check) {
    for (const shmbus::Policy policy : {shmbus::Policy::kBlock, shmbus::Policy::kOverwrite}) {
        const std::string mode =
            policy == shmbus::Policy::kBlock ? "block, in place" : "overwrite, copied";
        CAPTURE(mode);
        Damaged topic(policy);
        check(topic);
    }
}

}  // namespace

TEST_CASE("a record whose length exceeds the maximum is reported corrupt and skipped") {
    for (const std::uint32_t bad : {kMax + 1, 0xFFFFFFFFu, 0x80000000u, 4096u}) {
        CAPTURE(bad);
        in_both_modes([&](Damaged& topic) {
            topic.header(3).length = bad;
            const auto reading = topic.read();
            CHECK(reading.counters == all_but(3));
            CHECK(reading.damaged_deliveries == 0);
            CHECK(reading.saw_corrupt_status);
            CHECK(topic.subscriber.corrupt() == 1);
        });
    }
}

TEST_CASE("a padding frame longer than the rest of the lap is reported corrupt and skipped") {
    in_both_modes([](Damaged& topic) {
        topic.header(4).length = static_cast<std::uint32_t>(kCapacity);
        shmbus::atomics::store_release(topic.commit_word(4),
                                       stamp(topic.positions[4], FrameState::kPadding));
        const auto reading = topic.read();
        CHECK(reading.counters == all_but(4));
        CHECK(reading.saw_corrupt_status);
        CHECK(topic.subscriber.corrupt() == 1);
    });
}

TEST_CASE("a padding frame with an unaligned length is reported corrupt and skipped") {
    in_both_modes([](Damaged& topic) {
        topic.header(2).length = 13;
        shmbus::atomics::store_release(topic.commit_word(2),
                                       stamp(topic.positions[2], FrameState::kPadding));
        const auto reading = topic.read();
        CHECK(reading.counters == all_but(2));
        CHECK(topic.subscriber.corrupt() == 1);
    });
}

TEST_CASE(
    "a commit word turned into a WRAP mid-lap makes subscribers skip to the next lap, no further") {
    in_both_modes([](Damaged& topic) {
        shmbus::atomics::store_release(topic.commit_word(6),
                                       stamp(topic.positions[6], FrameState::kWrap));
        auto reading = topic.read();
        CHECK(reading.counters == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5});
        CHECK(reading.damaged_deliveries == 0);
        // The next lap is where publishing goes on; nothing there yet.
        CHECK(topic.subscriber.position() == kCapacity);
    });
}

TEST_CASE("a sequence number running backwards is counted as corrupt") {
    in_both_modes([](Damaged& topic) {
        topic.header(5).sequence = 1;
        const auto reading = topic.read();
        CHECK(reading.counters.size() == kRecords);
        CHECK(topic.subscriber.corrupt() >= 1);
    });
}

TEST_CASE(
    "a scribbled commit word looks unwritten; the unblocker pads it and subscribers move on") {
    in_both_modes([](Damaged& topic) {
        shmbus::atomics::store_release(topic.commit_word(4), std::uint64_t{0xdeadbeefcafe0000});
        auto reading = topic.read();
        CHECK(reading.counters == std::vector<std::uint64_t>{0, 1, 2, 3});
        CHECK(topic.subscriber.position() == topic.positions[4]);
        const auto report = shmbus::ring::repair_at_floor(topic.view(), topic.writable.locks_fd());
        CHECK(report.outcome == shmbus::ring::RepairOutcome::kRepaired);
        CHECK(report.position == topic.positions[4]);
        reading = topic.read();
        CHECK(reading.counters == std::vector<std::uint64_t>{5, 6, 7, 8, 9});
    });
}

TEST_CASE("the header parameters changed under a live topic change nothing for its clients") {
    in_both_modes([](Damaged& topic) {
        auto& header = *topic.view().records;
        header.capacity = 1u << 30;
        header.max_record_size = 1u << 29;
        header.max_subscribers = 0;
        header.max_publishers = 0;
        header.policy = 77;
        header.ring_offset = 1;
        const auto reading = topic.read();
        CHECK(reading.counters == all_but(kRecords));
        topic.publish(kRecords);
        CHECK(topic.read().counters == std::vector<std::uint64_t>{kRecords});
    });
}

TEST_CASE("an unaligned tail makes a publisher report kCorrupt, and a subscriber is unharmed") {
    in_both_modes([](Damaged& topic) {
        auto& tail = topic.view().records->tail;
        const std::uint64_t real = tail.position;
        tail.position = real + 3;
        const auto reading = topic.read();
        CHECK(reading.counters == all_but(kRecords));
        CHECK(reading.damaged_deliveries == 0);
        shmbus::Publisher other(topic.writable);
        CHECK(other.try_offer(shmbus::test::bytes_of("x")) == Status::kCorrupt);
        tail.position = real;
    });
}

TEST_CASE("a tail thrown far ahead never makes a subscriber crash, hang or deliver damaged bytes") {
    in_both_modes([](Damaged& topic) {
        topic.view().records->tail.position = std::uint64_t{1} << 62;
        const auto reading = topic.read();
        CHECK(reading.damaged_deliveries == 0);
        CHECK_FALSE(reading.saw_other_status);
    });
}

TEST_CASE("a tail thrown backwards never makes a subscriber crash, hang or deliver damaged bytes") {
    in_both_modes([](Damaged& topic) {
        topic.view().records->tail.position = 8;
        const auto reading = topic.read();
        CHECK(reading.damaged_deliveries == 0);
    });
}

TEST_CASE(
    "a subscriber whose slot another client overwrote or zeroed puts it back and reads on, and "
    "publishers never lost it") {
    for (const std::uint32_t scribble : {0x1234u, 0u}) {
        CAPTURE(scribble);
        in_both_modes([scribble](Damaged& topic) {
            const std::uint32_t slot = topic.subscriber.slot();
            auto& subscriber_slot = topic.view().subscribers[slot];
            const std::uint64_t position = subscriber_slot.position;
            // Zeroed as a truncation would leave it, or a state no slot has; and the attached
            // bit cleared, so only the publisher's own memory of the subscriber is left.
            std::memset(&subscriber_slot, 0, sizeof subscriber_slot);
            subscriber_slot.state = scribble;
            topic.view().state->attached_subscribers[slot / 64] = 0;
            topic.publish(kRecords);
            // The subscriber finds its slot wrong at its next poll, writes it back whole, and
            // reads every record.
            const auto reading = topic.read();
            CHECK(reading.counters.size() == kRecords + 1);
            CHECK(reading.damaged_deliveries == 0);
            CHECK_FALSE(reading.saw_other_status);
            CHECK(topic.subscriber.slot_restorations() == 1);
            CHECK(subscriber_slot.state == shmbus::format::kSlotActive);
            CHECK(subscriber_slot.position > position);
            CHECK((topic.view().state->attached_subscribers[slot / 64] >> (slot % 64) & 1) == 1);
            topic.publish(kRecords + 1);
            CHECK(topic.read().counters == std::vector<std::uint64_t>{kRecords + 1});
        });
    }
}

TEST_CASE(
    "a block publisher holds to a live subscriber whose slot was wiped, and goes on once the "
    "subscriber puts it back") {
    Damaged topic(shmbus::Policy::kBlock);
    // The subscriber has read nothing of records 0..9; its slot is wiped, as a truncated state
    // file would leave it.
    const std::uint32_t slot = topic.subscriber.slot();
    std::memset(&topic.view().subscribers[slot], 0, sizeof(shmbus::format::SubscriberSlot));
    topic.view().state->attached_subscribers[slot / 64] = 0;
    // Believing the slot, the publisher would fill the ring over the unread records. It remembers
    // the subscriber instead, finds its slot lock held, and stops where the ring is full.
    std::uint64_t counter = kRecords;
    while (topic.try_publish(counter, 0ns) == Status::kOk)
        ++counter;
    CHECK(topic.try_publish(counter, 0ns) == Status::kBackPressured);
    const auto reading = topic.read();
    CHECK(reading.damaged_deliveries == 0);
    REQUIRE(reading.counters.size() == counter);
    for (std::uint64_t i = 0; i < counter; ++i)
        CHECK(reading.counters[i] == i);
    CHECK(topic.subscriber.lost() == 0);
    CHECK(topic.try_publish(counter, 0ns) == Status::kOk);
}

TEST_CASE("a sleeping-subscriber mask full of bits costs publishers a few posts, nothing more") {
    in_both_modes([](Damaged& topic) {
        auto& state = *topic.view().state;
        for (auto& word : state.sleeping_subscribers)
            word = ~std::uint64_t{0};
        for (auto& word : state.blocked_publishers)
            word = ~std::uint64_t{0};
        topic.publish(kRecords);
        CHECK(topic.read().counters.size() == kRecords + 1);
        topic.publish(kRecords + 1);
        CHECK(topic.read().counters == std::vector<std::uint64_t>{kRecords + 1});
    });
}

TEST_CASE(
    "a record whose length was shortened costs a copying subscriber at most a lap, not the rest of "
    "the topic") {
    {
        Damaged topic(shmbus::Policy::kOverwrite);
        REQUIRE(topic.header(3).length >= 16);
        topic.header(3).length = 8;  // the next "frame" now starts inside record 3's payload
        auto reading = topic.read();
        // Records 0..2 are intact; what comes after the damage may be lost, but once publishers
        // write more (a held-back publisher repairs what holds it back, a lapped subscriber
        // finds the oldest intact frame), the subscriber must get going again.
        CHECK(std::vector<std::uint64_t>(reading.counters.begin(), reading.counters.begin() + 3) ==
              std::vector<std::uint64_t>{0, 1, 2});
        std::vector<std::uint64_t> later;
        for (std::uint64_t i = kRecords; i < kRecords + 40; ++i) {
            int attempts = 0;
            while (topic.try_publish(i, 10ms) != Status::kOk) {
                REQUIRE_MESSAGE(++attempts < 100, "publishers stay held back at record " << i);
                reading = topic.read();
                later.insert(later.end(), reading.counters.begin(), reading.counters.end());
            }
        }
        reading = topic.read();
        later.insert(later.end(), reading.counters.begin(), reading.counters.end());
        REQUIRE_FALSE(later.empty());
        CHECK(later.back() == kRecords + 39);
        CHECK(reading.damaged_deliveries == 0);
    }
}
