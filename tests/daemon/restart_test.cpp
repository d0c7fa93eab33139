// Data survives a daemon restart: the daemon reopens the topic files it finds and keeps their
// records.
#include <doctest/doctest.h>

#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;

namespace {

std::string record_text(int i) {
    return "record " + std::to_string(i);
}

std::vector<std::string> read_all_from_earliest(const std::filesystem::path& dir) {
    const shmbus::Topic topic =
        shmbus::Topic::open(dir, "durable", {.access = shmbus::Access::kSubscribe});
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    std::vector<std::string> records;
    while (subscriber
               .poll([&](const shmbus::Record& record) {
                   records.emplace_back(reinterpret_cast<const char*>(record.payload.data()),
                                        record.payload.size());
               })
               .records > 0) {
    }
    return records;
}

}  // namespace

TEST_CASE("1000 records published before a daemon restart are all still there after it") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, "[topics.durable]\ncapacity = \"128KiB\"\nmax_record_size = \"1KiB\"\n");
    std::vector<std::string> expected;
    {
        Daemon daemon({.dir = bus.path(), .config = config});
        CHECK(daemon.wait_for_log("created topic 'durable'"));
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "durable");
        shmbus::Publisher publisher(topic);
        for (int i = 0; i < 1000; ++i) {
            expected.push_back(record_text(i));
            REQUIRE(publisher.offer(std::as_bytes(std::span(expected.back())),
                                    std::chrono::seconds(5)) == shmbus::Status::kOk);
        }
        REQUIRE(daemon.stop()->status == 0);
    }
    Daemon restarted({.dir = bus.path(), .config = config});
    CHECK(restarted.wait_for_log("supervising topic 'durable'"));
    CHECK_FALSE(restarted.log().find("created topic") != std::string::npos);
    CHECK(shmbus::collect_stats(shmbus::Topic::open(bus.path(), "durable")).supervisor_pid ==
          static_cast<std::uint32_t>(restarted.pid()));

    CHECK(read_all_from_earliest(bus.path()) == expected);

    // The same through the command-line tool, when the build has it.
    if (const auto cli = cli_path()) {
        const Run run = run_program(*cli, {"--dir", bus.path().string(), "sub", "--from",
                                           "earliest", "--count", "1000", "durable"});
        CHECK_MESSAGE(run.status == 0, run.output);
        std::string lines;
        for (const auto& text : expected)
            lines += text + "\n";
        CHECK(run.output == lines);
    } else {
        shmbus::test::skip("the `shmbus sub --from earliest` half: this build has no shmbus CLI");
    }
    CHECK(restarted.stop()->status == 0);
}
