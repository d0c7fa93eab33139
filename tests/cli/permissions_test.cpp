// What the tool can do with the access a user has: run as an unprivileged user through setpriv.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"
#include "support/skip.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {
namespace {

constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr const char* kNobody = "65534";

/// Runs the tool as uid and gid 65534 with no supplementary groups.
ToolResult run_as_nobody(const std::vector<std::string>& args) {
    std::vector<std::string> argv{kSetpriv, "--reuid",        kNobody,    "--regid",
                                  kNobody,  "--clear-groups", tool_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process process = Process::start(argv);
    ToolResult result;
    const auto exit = process.finish(Clock::now() + 30s, result.out);
    REQUIRE(exit.has_value());
    result.exit = *exit;
    result.err = process.error_output();
    return result;
}

bool can_switch_users() {
    if (::geteuid() != 0) {
        shmbus::test::skip("running as another user needs root");
        return false;
    }
    if (::access(kSetpriv, X_OK) != 0) {
        shmbus::test::skip(std::string(kSetpriv) + " is not installed (util-linux)");
        return false;
    }
    return true;
}

}  // namespace

TEST_CASE("stat and sub need only read access to the records file; pub needs write access") {
    if (!can_switch_users()) return;
    BusDirectory bus;
    REQUIRE(::chmod(bus.path().c_str(), 0755) == 0);
    TopicOptions readable{.capacity = 64 * 1024, .max_record_size = 1024};
    readable.records.mode = 0644;
    readable.state.mode = 0666;
    create_topic(bus.path(), "readable", readable);
    {
        const Topic topic = Topic::open(bus.path(), "readable");
        Publisher publisher(topic);
        REQUIRE(publisher.try_offer(std::as_bytes(std::span("hi", 2))) == Status::kOk);
    }
    const std::string dir = bus.path().string();

    const ToolResult stat = run_as_nobody({"stat", "--dir", dir, "readable", "--json"});
    CHECK_MESSAGE(stat.status() == 0, stat.err);
    CHECK(stat.out.find("\"topic\":\"readable\"") != std::string::npos);
    const ToolResult sub =
        run_as_nobody({"sub", "--dir", dir, "readable", "--from", "earliest", "--count", "1"});
    CHECK_MESSAGE(sub.status() == 0, sub.err);
    CHECK(sub.out == "hi\n");

    const ToolResult pub = run_as_nobody({"pub", "--dir", dir, "readable", "x"});
    CHECK(pub.status() == 4);
    CHECK(pub.err.find("permission denied") != std::string::npos);
}

TEST_CASE("a topic the user may not read at all is refused with status 4") {
    if (!can_switch_users()) return;
    BusDirectory bus;
    REQUIRE(::chmod(bus.path().c_str(), 0755) == 0);
    create_topic(bus.path(), "private", {.capacity = 64 * 1024, .max_record_size = 1024});
    TopicOptions open_to_all{.capacity = 64 * 1024, .max_record_size = 1024};
    open_to_all.records.mode = 0644;
    open_to_all.state.mode = 0666;
    create_topic(bus.path(), "public", open_to_all);
    const std::string dir = bus.path().string();

    const ToolResult stat = run_as_nobody({"stat", "--dir", dir, "private"});
    CHECK(stat.status() == 4);
    CHECK(stat.err.find("permission denied") != std::string::npos);
    CHECK(stat.err.find("private") != std::string::npos);

    // Every topic: the unreadable one is reported, the others still shown.
    const ToolResult all = run_as_nobody({"stat", "--dir", dir, "--json"});
    CHECK(all.status() == 4);
    CHECK(all.out.find("\"topic\":\"public\"") != std::string::npos);
    CHECK(all.err.find("private") != std::string::npos);
}

}  // namespace shmbus::test::cli
