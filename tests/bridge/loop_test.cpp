// Loop prevention: an inbound and an outbound route on the same topic and subject. A record
// that came in from NATS is never sent back out, so nothing echoes.
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

std::span<const std::byte> bytes(const std::string& text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

struct Seen {
    std::string payload;
    std::uint16_t publisher;
};

/// Reads `subscriber` until it has handed over `count` records in all, or the deadline.
void read_until(shmbus::Subscriber& subscriber, std::vector<Seen>& seen, std::size_t count) {
    const auto deadline = deadline_in(10s);
    while (seen.size() < count && Clock::now() < deadline) {
        (void)subscriber.wait(50ms);
        (void)subscriber.poll([&](const shmbus::Record& record) {
            seen.push_back({std::string(reinterpret_cast<const char*>(record.payload.data()),
                                        record.payload.size()),
                            record.publisher});
        });
    }
}

}  // namespace

TEST_CASE("a record that came from NATS does not go back out, even when the routes overlap") {
    const auto program = nats_server_program();
    if (!program) return skip("nats-server is not installed (scripts/install-deps.sh)");
    NatsServer server(*program);
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "c");

    NatsClient client(server.url());
    SyncSubscription watch(client, "loop.c");
    BridgeProcess bridge(bus.path(), "[nats]\nurl = \"" + server.url() +
                                         "\"\n"
                                         "[bus]\ndirectory = \"" +
                                         bus.path().string() +
                                         "\"\n"
                                         "[[outbound]]\ntopic = \"c\"\nsubject = \"loop.{topic}\"\n"
                                         "[[inbound]]\nsubject = \"loop.c\"\ntopic = \"c\"\n");
    REQUIRE_MESSAGE(bridge.wait_for_log("ready:", deadline_in(10s)), bridge.log());

    const shmbus::Topic c = shmbus::Topic::open(bus.path(), "c");
    shmbus::Subscriber reader(c, shmbus::SubscriberOptions{shmbus::StartAt::earliest()});
    shmbus::Publisher local(c);
    std::vector<Seen> in_topic;

    // A local record goes out once, and comes back in once (the inbound route takes it)...
    REQUIRE(local.offer(bytes("local"), 5s) == shmbus::Status::kOk);
    read_until(reader, in_topic, 2);
    INFO(bridge.log());
    REQUIRE(in_topic.size() == 2);
    CHECK(in_topic[1].payload == "local");
    CHECK(in_topic[1].publisher != local.slot());

    // ...a message from elsewhere on NATS comes in once...
    REQUIRE(natsConnection_PublishString(client.get(), "loop.c", "remote") == NATS_OK);
    REQUIRE(natsConnection_FlushTimeout(client.get(), 5000) == NATS_OK);
    read_until(reader, in_topic, 3);
    REQUIRE(in_topic.size() == 3);
    CHECK(in_topic[2].payload == "remote");
    CHECK(in_topic[2].publisher == in_topic[1].publisher);

    // ...and a marker published after them shows, once it is on NATS, that neither was echoed:
    // the outbound side reads the topic in order, so an echo would have come before it.
    REQUIRE(local.offer(bytes("marker"), 5s) == shmbus::Status::kOk);
    std::vector<std::string> on_nats;
    while (on_nats.empty() || on_nats.back() != "marker") {
        natsMsg* message = watch.next(deadline_in(10s));
        REQUIRE_MESSAGE(message != nullptr, "the marker never reached NATS");
        on_nats.push_back(data(message));
        natsMsg_Destroy(message);
    }
    CHECK(on_nats == std::vector<std::string>{"local", "remote", "marker"});

    const auto exit = bridge.stop(deadline_in(10s));
    REQUIRE(exit.has_value());
    CHECK(exit->ok());
    // Three records came in (local, remote, and marker's return, which may still be on its
    // way at the stop): at least the first two were skipped as the bridge's own.
    CHECK(
        bridge.wait_for_log("summary: outbound topic 'c' -> 'loop.c': sent 2, skipped as the "
                            "bridge's own ",
                            deadline_in(1s)));
}
