// An inbound message larger than the topic's max record is refused, counted, and logged with
// its subject; the messages after it still arrive.
#include <doctest/doctest.h>

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

TEST_CASE("an inbound message over the topic's max record is refused, counted and logged") {
    const auto program = nats_server_program();
    if (!program) return skip("nats-server is not installed (scripts/install-deps.sh)");
    NatsServer server(*program);
    BusDirectory bus;
    shmbus::TopicOptions options;
    options.capacity = 64 * 1024;
    options.max_record_size = 1024;
    shmbus::create_topic(bus.path(), "small", options);

    BridgeProcess bridge(bus.path(), "[nats]\nurl = \"" + server.url() +
                                         "\"\n"
                                         "[bus]\ndirectory = \"" +
                                         bus.path().string() +
                                         "\"\n"
                                         "[[inbound]]\nsubject = \"in.>\"\ntopic = \"small\"\n");
    REQUIRE_MESSAGE(bridge.wait_for_log("ready:", deadline_in(10s)), bridge.log());

    NatsClient client(server.url());
    const std::string big(4096, 'x');
    const std::string fits(1024, 'y');
    REQUIRE(natsConnection_Publish(client.get(), "in.big", big.data(),
                                   static_cast<int>(big.size())) == NATS_OK);
    REQUIRE(natsConnection_Publish(client.get(), "in.ok", fits.data(),
                                   static_cast<int>(fits.size())) == NATS_OK);
    REQUIRE(natsConnection_FlushTimeout(client.get(), 5000) == NATS_OK);

    const shmbus::Topic small = shmbus::Topic::open(bus.path(), "small");
    shmbus::Subscriber reader(small, shmbus::SubscriberOptions{shmbus::StartAt::earliest()});
    std::vector<std::string> records;
    const auto deadline = deadline_in(10s);
    while (records.empty() && Clock::now() < deadline) {
        (void)reader.wait(50ms);
        (void)reader.poll([&](const shmbus::Record& record) {
            records.emplace_back(reinterpret_cast<const char*>(record.payload.data()),
                                 record.payload.size());
        });
    }
    INFO(bridge.log());
    // Messages of one subscription arrive in order: the big one was handled before this one.
    REQUIRE(records.size() == 1);
    CHECK(records[0] == fits);
    CHECK(
        bridge.wait_for_log("refused a message on subject 'in.big' of 4096 bytes, larger than "
                            "the topic's max record of 1024 bytes (1 refused so far)",
                            deadline_in(5s)));

    const auto exit = bridge.stop(deadline_in(10s));
    REQUIRE(exit.has_value());
    CHECK(exit->ok());
    CHECK(bridge.wait_for_log(
        "summary: inbound 'in.>' -> topic 'small': received 2, committed 1, refused oversized 1, "
        "not committed 0",
        deadline_in(1s)));
}
