// Limits reached while other clients work: a file system without room for a new topic's bytes,
// or without inodes for more topics; every publisher or subscriber slot taken; a record larger
// than the topic's maximum. Each is a clear error for the one who hit it, and the clients already
// attached notice nothing.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "small_tmpfs.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"
#include "support/shared_block.hpp"
#include "support/skip.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::BusDirectory;
using shmbus::test::bytes_of;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::deadline_in;
using shmbus::test::SmallTmpfs;

const shmbus::TopicOptions kSmall{.capacity = 64 * 1024, .max_record_size = 1024};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// The error `call` throws; fails the test if it throws none.
template <typename Call>
shmbus::Error error_of(Call&& call) {
    try {
        call();
    } catch (const shmbus::Error& error) {
        return error;
    }
    FAIL("no error");
    return shmbus::Error(shmbus::ErrorCode::kSystem, "");
}

/// A publisher and a subscriber on one topic, exchanging numbered records and checking each.
class Exchange {
  public:
    explicit Exchange(const shmbus::Topic& topic) : publisher_(topic), subscriber_(topic) {}

    /// `count` more records through, each read back intact and in order.
    bool go_on(int count) {
        for (int i = 0; i < count; ++i) {
            const std::string text = "record " + std::to_string(next_++);
            if (publisher_.try_offer(bytes_of(text)) != Status::kOk) return false;
            const auto received = shmbus::test::drain(subscriber_);
            if (received.size() != 1 || received[0].payload != bytes_of(text)) return false;
        }
        return subscriber_.lost() == 0 && subscriber_.corrupt() == 0;
    }

  private:
    shmbus::Publisher publisher_;
    shmbus::Subscriber subscriber_;
    int next_ = 0;
};

void require_no_half_made_topics(const std::filesystem::path& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        CHECK_MESSAGE(!contains(entry.path().filename().string(), ".creating."),
                      "left behind: " << entry.path());
    }
}

}  // namespace

TEST_CASE(
    "a topic too large for the file system is kNoSpace naming the file, leaves nothing behind, "
    "and the clients of other topics notice nothing") {
    if (::geteuid() != 0) {
        shmbus::test::skip("mounting a small tmpfs needs root");
        return;
    }
    BusDirectory base;
    SmallTmpfs tmpfs(base.path() / "bus", "size=1m");
    if (!tmpfs.mounted()) {
        shmbus::test::skip(std::string("cannot mount a tmpfs here (") + tmpfs.error() + ")");
        return;
    }
    const auto& dir = tmpfs.path();
    shmbus::create_topic(dir, "working", kSmall);
    const shmbus::Topic working = shmbus::Topic::open(dir, "working");
    Exchange exchange(working);
    REQUIRE(exchange.go_on(10));

    const shmbus::Error error =
        error_of([&] { shmbus::create_topic(dir, "too-big", {.capacity = 2 << 20}); });
    CHECK(error.code() == shmbus::ErrorCode::kNoSpace);
    CHECK(error.system_errno() == ENOSPC);
    const std::string message = error.what();
    CHECK_MESSAGE(contains(message, "topic 'too-big' in " + dir.string() + ": no space for "),
                  message);
    CHECK_MESSAGE(contains(message,
                           "/records (No space left on device); free space or lower the "
                           "topic's capacity"),
                  message);
    CHECK_FALSE(std::filesystem::exists(dir / "too-big"));
    require_no_half_made_topics(dir);

    // The space the failed topic had taken was given back: a topic that fits is made.
    shmbus::create_topic(dir, "fits", kSmall);
    CHECK(shmbus::list_topics(dir) == std::vector<std::string>{"fits", "working"});
    CHECK(exchange.go_on(2000));  // several laps of the ring on the nearly full file system
}

TEST_CASE(
    "a file system out of inodes refuses more topics with kNoSpace, and the topics it holds keep "
    "working") {
    if (::geteuid() != 0) {
        shmbus::test::skip("mounting a small tmpfs needs root");
        return;
    }
    BusDirectory base;
    // The root directory, and for each topic: its directory, three files (records, state, locks),
    // the wake directory and a wake FIFO per subscriber slot (two here): 1 + 2 x 7.
    SmallTmpfs tmpfs(base.path() / "bus", "size=16m,nr_inodes=15");
    if (!tmpfs.mounted()) {
        shmbus::test::skip(std::string("cannot mount a tmpfs here (") + tmpfs.error() + ")");
        return;
    }
    const auto& dir = tmpfs.path();
    std::vector<std::string> made;
    std::optional<shmbus::Error> refusal;
    for (int i = 0; i < 10 && !refusal; ++i) {
        const std::string name = "topic-" + std::to_string(i);
        try {
            shmbus::TopicOptions options = kSmall;
            options.max_subscribers = 2;
            shmbus::create_topic(dir, name, options);
            made.push_back(name);
        } catch (const shmbus::Error& error) {
            refusal = error;
        }
    }
    REQUIRE_MESSAGE(refusal, "ten topics fitted in fifteen inodes");
    CHECK(made.size() == 2);
    CHECK(refusal->code() == shmbus::ErrorCode::kNoSpace);
    CHECK(refusal->system_errno() == ENOSPC);
    CHECK_MESSAGE(contains(refusal->what(), "topic 'topic-2' in " + dir.string()), refusal->what());
    CHECK_MESSAGE(contains(refusal->what(), "No space left on device"), refusal->what());
    require_no_half_made_topics(dir);
    CHECK(shmbus::list_topics(dir) == made);
    for (const auto& name : made) {
        Exchange exchange(shmbus::Topic::open(dir, name));
        CHECK(exchange.go_on(100));
    }
}

TEST_CASE(
    "with every slot taken a newcomer in another process gets kNoSlot, and the attached clients "
    "go on") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t",
                         {.capacity = 64 * 1024,
                          .max_record_size = 1024,
                          .max_publishers = 2,
                          .max_subscribers = 2});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher first_publisher(topic);
    shmbus::Publisher second_publisher(topic);
    shmbus::Subscriber first_subscriber(topic);
    auto second_subscriber = std::make_unique<shmbus::Subscriber>(topic);

    struct Refusals {
        int publisher_code = -1;
        int subscriber_code = -1;
        char publisher_message[512] = {};
        char subscriber_message[512] = {};
    };
    const shmbus::test::SharedBlock<Refusals> refusals;
    Child newcomer = Child::fork("newcomer", [&](ChildLink&) {
        const shmbus::Topic own = shmbus::Topic::open(bus.path(), "t");
        try {
            shmbus::Publisher publisher(own);
            return 2;
        } catch (const shmbus::Error& error) {
            refusals->publisher_code = static_cast<int>(error.code());
            std::strncpy(refusals->publisher_message, error.what(), 511);
        }
        try {
            shmbus::Subscriber subscriber(own);
            return 3;
        } catch (const shmbus::Error& error) {
            refusals->subscriber_code = static_cast<int>(error.code());
            std::strncpy(refusals->subscriber_message, error.what(), 511);
        }
        return 0;
    });
    const auto exit = newcomer.wait_until(deadline_in(10s));
    REQUIRE(exit);
    CHECK_MESSAGE(exit->ok(), "the newcomer " << exit->describe());
    CHECK(refusals->publisher_code == static_cast<int>(shmbus::ErrorCode::kNoSlot));
    CHECK_MESSAGE(contains(refusals->publisher_message, "topic 't' in " + bus.path().string()),
                  refusals->publisher_message);
    CHECK_MESSAGE(contains(refusals->publisher_message, "publisher slots are taken"),
                  refusals->publisher_message);
    CHECK(refusals->subscriber_code == static_cast<int>(shmbus::ErrorCode::kNoSlot));
    CHECK_MESSAGE(contains(refusals->subscriber_message, "subscriber slots are taken"),
                  refusals->subscriber_message);

    // Both publishers' records reach both subscribers, in order, nothing lost or damaged.
    for (int i = 0; i < 500; ++i) {
        REQUIRE(first_publisher.try_offer(bytes_of("a" + std::to_string(i))) == Status::kOk);
        REQUIRE(second_publisher.try_offer(bytes_of("b" + std::to_string(i))) == Status::kOk);
        for (shmbus::Subscriber* subscriber : {&first_subscriber, second_subscriber.get()}) {
            const auto received = shmbus::test::drain(*subscriber);
            REQUIRE(received.size() == 2);
            CHECK(received[0].payload == bytes_of("a" + std::to_string(i)));
            CHECK(received[1].payload == bytes_of("b" + std::to_string(i)));
        }
    }
    CHECK(first_subscriber.lost() + first_subscriber.corrupt() == 0);
    // A slot given back is a slot for the next newcomer.
    second_subscriber.reset();
    shmbus::Subscriber third(topic);
    CHECK(shmbus::collect_stats(topic).subscribers.size() == 2);
}

TEST_CASE(
    "a record larger than the maximum is kTooLarge, publishes nothing, and costs no sequence") {
    BusDirectory bus;
    const shmbus::Topic topic = shmbus::test::create_and_open(bus, kSmall, "t");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    const std::vector<std::byte> too_large(kSmall.max_record_size + 1, std::byte{'x'});
    REQUIRE(publisher.try_offer(bytes_of("before")) == Status::kOk);
    CHECK(publisher.try_offer(too_large) == Status::kTooLarge);
    CHECK(publisher.offer(too_large, 1s) == Status::kTooLarge);
    CHECK(publisher.try_claim(too_large.size()).status() == Status::kTooLarge);
    CHECK(publisher.try_claim(std::size_t{1} << 40).status() == Status::kTooLarge);
    REQUIRE(publisher.try_offer(bytes_of("after")) == Status::kOk);
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 2);
    CHECK(received[0].payload == bytes_of("before"));
    CHECK(received[1].payload == bytes_of("after"));
    CHECK(received[1].sequence == received[0].sequence + 1);
    CHECK(subscriber.voided() == 0);
    CHECK(subscriber.corrupt() == 0);
}
