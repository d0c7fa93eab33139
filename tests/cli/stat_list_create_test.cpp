// shmbus stat, list and create.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "json_value.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

std::string dir_of(const BusDirectory& bus) {
    return bus.path().string();
}

}  // namespace

TEST_CASE("stat --json shows a running subscriber's pid, and the topic's geometry") {
    BusDirectory bus;
    create_topic(bus.path(), "t",
                 {.capacity = 64 * 1024, .max_record_size = 1024, .policy = Policy::kOverwrite});
    Process sub = Process::start_tool({"sub", "--dir", dir_of(bus), "t"});
    wait_for_live_subscribers(bus.path(), "t", 1, Clock::now() + 20s);

    const ToolResult stat = run_tool({"stat", "--dir", dir_of(bus), "t", "--json"});
    REQUIRE_MESSAGE(stat.status() == 0, stat.err);
    REQUIRE(stat.out.ends_with("\n"));
    REQUIRE(stat.out.find('\n') == stat.out.size() - 1);  // one topic, one line
    const JsonValue json = parse_json(stat.out);
    CHECK(json["topic"].string() == "t");
    CHECK(json["directory"].string() == dir_of(bus));
    CHECK(json["capacity"].uint() == 64 * 1024);
    CHECK(json["max_record_size"].uint() == 1024);
    CHECK(json["policy"].string() == "overwrite");
    CHECK(json["timestamps"].boolean());
    CHECK(json["tail_position"].uint() == 0);
    CHECK(json["commit_floor"].is(JsonValue::Kind::kNumber));
    for (const char* counter :
         {"published", "consumed", "lost", "aborted", "unblocked", "evicted", "reclaimed"}) {
        CHECK(json["counters"][counter].uint() == 0);
    }
    CHECK(json["supervisor_pid"].uint() == 0);
    CHECK(json["publishers"].items().empty());
    const auto& subscribers = json["subscribers"].items();
    REQUIRE(subscribers.size() == 1);
    CHECK(subscribers[0]["pid"].uint() == static_cast<std::uint64_t>(sub.pid()));
    CHECK(subscribers[0]["uid"].uint() == ::getuid());
    CHECK(subscribers[0]["alive"].boolean());
    CHECK_FALSE(subscribers[0]["evicted"].boolean());
    CHECK(subscribers[0]["lag_bytes"].uint() == 0);

    // The text form names the same subscriber.
    const ToolResult text = run_tool({"stat", "--dir", dir_of(bus), "t"});
    REQUIRE_MESSAGE(text.status() == 0, text.err);
    CHECK(text.out.starts_with("topic t "));
    CHECK(text.out.find("policy          overwrite") != std::string::npos);
    CHECK(text.out.find("subscribers: 1 of 64 slots") != std::string::npos);
    CHECK(text.out.find("    0     " + std::to_string(sub.pid()) + " ") != std::string::npos);
}

TEST_CASE("stat counts records and shows the lag of a subscriber that has not read them") {
    BusDirectory bus;
    create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
    const Topic topic = Topic::open(bus.path(), "t");
    Subscriber behind(topic);
    {
        Publisher publisher(topic);
        for (int i = 0; i < 3; ++i) {
            REQUIRE(publisher.try_offer(std::as_bytes(std::span("abc", 3))) == Status::kOk);
        }
        const ToolResult stat = run_tool({"stat", "--dir", dir_of(bus), "t", "--json"});
        REQUIRE_MESSAGE(stat.status() == 0, stat.err);
        const JsonValue json = parse_json(stat.out);
        CHECK(json["counters"]["published"].uint() == 3);
        CHECK(json["tail_sequence"].uint() == 3);
        REQUIRE(json["publishers"].items().size() == 1);
        CHECK(json["publishers"].items()[0]["pid"].uint() ==
              static_cast<std::uint64_t>(::getpid()));
        CHECK(json["publishers"].items()[0]["published"].uint() == 3);
        REQUIRE(json["subscribers"].items().size() == 1);
        CHECK(json["subscribers"].items()[0]["lag_bytes"].uint() == json["tail_position"].uint());
        CHECK(json["tail_position"].uint() > 0);
    }
}

TEST_CASE("stat without a topic describes every topic, one JSON line each") {
    BusDirectory bus;
    create_topic(bus.path(), "a");
    create_topic(bus.path(), "b");
    const ToolResult stat = run_tool({"stat", "--dir", dir_of(bus), "--json"});
    REQUIRE_MESSAGE(stat.status() == 0, stat.err);
    const std::size_t split = stat.out.find('\n');
    REQUIRE(split != std::string::npos);
    CHECK(parse_json(stat.out.substr(0, split))["topic"].string() == "a");
    CHECK(parse_json(stat.out.substr(split + 1))["topic"].string() == "b");
}

TEST_CASE("list prints the topics one per line, and --long their geometry and clients") {
    BusDirectory bus;
    const ToolResult empty = run_tool({"list", "--dir", dir_of(bus)});
    CHECK(empty.status() == 0);
    CHECK(empty.out.empty());

    for (const char* name : {"orders", "audit.log", "x-1"}) {
        const ToolResult created = run_tool({"create", "--dir", dir_of(bus), name});
        REQUIRE_MESSAGE(created.status() == 0, created.err);
    }
    const ToolResult list = run_tool({"list", "--dir", dir_of(bus)});
    CHECK(list.status() == 0);
    CHECK(list.out == "audit.log\norders\nx-1\n");

    const Topic topic = Topic::open(bus.path(), "orders");
    Subscriber subscriber(topic);
    const ToolResult long_list = run_tool({"list", "--long", "--dir", dir_of(bus)});
    CHECK_MESSAGE(long_list.status() == 0, long_list.err);
    CHECK(long_list.out.starts_with("TOPIC"));
    CHECK(long_list.out.find("orders     1048576   65536       block   0           1\n") !=
          std::string::npos);
}

TEST_CASE("SHMBUS_DIR chooses the bus directory when --dir is not given") {
    BusDirectory bus;
    create_topic(bus.path(), "from-env");
    const ToolResult list = run_tool({"list"}, {.environment = {"SHMBUS_DIR=" + dir_of(bus)}});
    CHECK(list.status() == 0);
    CHECK(list.out == "from-env\n");
}

TEST_CASE("create applies every option, with K, M and G sizes, and notes that no daemon runs") {
    BusDirectory bus;
    const ToolResult created =
        run_tool({"create", "--dir", dir_of(bus), "t", "--capacity", "2M", "--max-record", "4K",
                  "--policy", "overwrite", "--max-publishers", "2", "--max-subscribers", "3",
                  "--no-timestamps", "--fenced-commits"});
    REQUIRE_MESSAGE(created.status() == 0, created.err);
    CHECK(created.out.empty());
    CHECK(created.err.find("no shmbusd supervises " + dir_of(bus) +
                           "; created topic 't' directly") != std::string::npos);
    const Topic topic = Topic::open(bus.path(), "t", {.access = Access::kSubscribe});
    const TopicStats stats = collect_stats(topic);
    CHECK(stats.capacity == 2 << 20);
    CHECK(stats.max_record_size == 4096);
    CHECK(stats.policy == Policy::kOverwrite);
    CHECK(stats.max_publishers == 2);
    CHECK(stats.max_subscribers == 3);
    CHECK_FALSE(stats.timestamps);
    CHECK(stats.fenced_commits);
    const ToolResult stat = run_tool({"stat", "--dir", dir_of(bus), "t"});
    CHECK(stat.out.find("fenced commits  yes") != std::string::npos);

    const ToolResult big =
        run_tool({"create", "--dir", dir_of(bus), "g", "--capacity", "1G", "--max-record", "1M"});
    if (big.status() == 6) {
        shmbus::test::skip("the 1 GiB topic: no space for it here (" + big.err + ")");
    } else {
        REQUIRE_MESSAGE(big.status() == 0, big.err);
        const Topic g =
            Topic::open(bus.path(), "g", {.access = Access::kSubscribe, .prefault = false});
        CHECK(g.capacity() == std::uint64_t{1} << 30);
        CHECK(g.max_record_size() == 1 << 20);
        CHECK(remove_topic(bus.path(), "g"));
    }
}

TEST_CASE("create falls back to creating the topic itself when nobody answers on the socket") {
    BusDirectory bus;
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    const std::string socket_path = control_socket_path(bus.path()).string();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(socket_path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    ::close(fd);

    const ToolResult created = run_tool({"create", "--dir", dir_of(bus), "t"});
    CHECK_MESSAGE(created.status() == 0, created.err);
    CHECK(created.err.find("created topic 't' directly") != std::string::npos);
    CHECK(list_topics(bus.path()) == std::vector<std::string>{"t"});
}

TEST_CASE("a topic whose files are not shmbus files is refused with status 5") {
    BusDirectory bus;
    create_topic(bus.path(), "good");
    std::filesystem::create_directory(bus.path() / "junk");
    for (const char* file : {"records", "state"}) {
        std::ofstream(bus.path() / "junk" / file) << std::string(8192, 'j');
    }
    const std::string dir = bus.path().string();
    const ToolResult stat = run_tool({"stat", "--dir", dir, "junk"});
    CHECK(stat.status() == 5);
    CHECK(stat.err.find("not a shmbus records file") != std::string::npos);

    const ToolResult list = run_tool({"list", "--dir", dir, "--long"});
    CHECK(list.status() == 5);
    CHECK(list.out.find("good") != std::string::npos);
    CHECK(list.out.find("junk") != std::string::npos);
    CHECK(list.err.find("junk") != std::string::npos);
}

}  // namespace shmbus::test::cli
