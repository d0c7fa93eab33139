#include <doctest/doctest.h>

#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"

TEST_CASE("a record published before a subscriber attaches at earliest reaches it intact") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", {.capacity = 4096, .max_record_size = 256});
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    const std::string message = "hello";
    REQUIRE(publisher.try_offer(std::as_bytes(std::span(message))) == shmbus::Status::kOk);

    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    std::vector<std::string> received;
    const auto result = subscriber.poll([&](const shmbus::Record& record) {
        received.emplace_back(reinterpret_cast<const char*>(record.payload.data()),
                              record.payload.size());
    });
    CHECK(result.status == shmbus::Status::kOk);
    REQUIRE(received.size() == 1);
    CHECK(received[0] == "hello");
}
