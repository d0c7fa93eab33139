// Records flow topic -> NATS -> topic through the bridge, in order, payloads untouched, and the
// messages on NATS carry the Shmbus-* headers.
#include <doctest/doctest.h>

#include <shmbus/publisher.hpp>
#include <shmbus/subscriber.hpp>
#include <shmbus/topic.hpp>
#include <string>
#include <vector>

#include "bridge_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;
using namespace shmbus::test::bridge;
using namespace std::chrono_literals;

namespace {

std::string payload_of(int index) {
    // Lengths vary from a few bytes to about 3 KiB, so framing and padding are exercised.
    std::string text = "record-" + std::to_string(index) + ":";
    text.append(static_cast<std::size_t>((index * 37) % 3000), static_cast<char>('a' + index % 26));
    return text;
}

std::span<const std::byte> bytes(const std::string& text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

}  // namespace

TEST_CASE("records go from topic a out to NATS and back into topic b, in order") {
    const auto program = nats_server_program();
    if (!program) return skip("nats-server is not installed (scripts/install-deps.sh)");
    NatsServer server(*program);
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "a");
    shmbus::create_topic(bus.path(), "b");

    NatsClient client(server.url());
    SyncSubscription watch(client, "x.a");

    BridgeProcess bridge(bus.path(), "[nats]\nurl = \"" + server.url() +
                                         "\"\n"
                                         "[bus]\ndirectory = \"" +
                                         bus.path().string() +
                                         "\"\n"
                                         "[bridge]\norigin = \"test-host\"\n"
                                         "[[outbound]]\ntopic = \"a\"\nsubject = \"x.{topic}\"\n"
                                         "[[inbound]]\nsubject = \"x.a\"\ntopic = \"b\"\n");
    REQUIRE_MESSAGE(bridge.wait_for_log("ready:", deadline_in(10s)), bridge.log());

    const shmbus::Topic a = shmbus::Topic::open(bus.path(), "a");
    const shmbus::Topic b = shmbus::Topic::open(bus.path(), "b");
    shmbus::Subscriber from_b(b, shmbus::SubscriberOptions{shmbus::StartAt::earliest()});
    shmbus::Publisher to_a(a);
    constexpr int kRecords = 500;
    for (int i = 0; i < kRecords; ++i) {
        const std::string payload = payload_of(i);
        REQUIRE(to_a.offer(bytes(payload), 5s) == shmbus::Status::kOk);
    }

    // Topic b: every record, in order, byte for byte.
    int received = 0;
    const auto deadline = deadline_in(30s);
    while (received < kRecords && Clock::now() < deadline) {
        (void)from_b.wait(100ms);
        const auto result = from_b.poll([&](const shmbus::Record& record) {
            const std::string got(reinterpret_cast<const char*>(record.payload.data()),
                                  record.payload.size());
            CHECK(got == payload_of(received));
            ++received;
        });
        REQUIRE(result.status == shmbus::Status::kOk);
    }
    INFO(bridge.log());
    CHECK(received == kRecords);
    CHECK(from_b.lost() == 0);

    // The test's own NATS subscriber saw the same messages, each with its headers; the
    // sequences are topic a's, one after another.
    std::uint64_t first_sequence = 0;
    for (int i = 0; i < kRecords; ++i) {
        natsMsg* message = watch.next(deadline_in(10s));
        REQUIRE_MESSAGE(message != nullptr, "message " << i << " never reached NATS");
        CHECK(data(message) == payload_of(i));
        CHECK(header(message, "Shmbus-Origin") == "test-host");
        CHECK(header(message, "Shmbus-Topic") == "a");
        const std::uint64_t sequence = std::stoull(header(message, "Shmbus-Sequence"));
        if (i == 0) first_sequence = sequence;
        CHECK(sequence == first_sequence + static_cast<std::uint64_t>(i));
        CHECK(std::stoull(header(message, "Shmbus-Timestamp")) > 0);
        natsMsg_Destroy(message);
    }

    const auto exit = bridge.stop(deadline_in(10s));
    REQUIRE(exit.has_value());
    CHECK(exit->ok());
    CHECK(bridge.wait_for_log("summary: outbound topic 'a' -> 'x.a': sent 500,", deadline_in(1s)));
    CHECK(bridge.wait_for_log("committed 500, refused oversized 0, not committed 0",
                              deadline_in(1s)));
}
