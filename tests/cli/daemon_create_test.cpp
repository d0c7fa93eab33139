// shmbus create with a shmbusd supervising the bus directory: the daemon creates the topic.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>

#include "support/bus_directory.hpp"
#include "tool.hpp"

namespace shmbus::test::cli {

TEST_CASE("create asks the shmbusd supervising the directory, which creates the topic") {
    const char* build = std::getenv("SHMBUS_BUILD_DIR");
    REQUIRE(build != nullptr);
    const std::string daemon = std::string(build) + "/daemon/shmbusd";
    REQUIRE_MESSAGE(::access(daemon.c_str(), X_OK) == 0, "shmbusd is not built: " << daemon);

    BusDirectory bus;
    const std::string dir = bus.path().string();
    Process shmbusd = Process::start({daemon, "--dir", dir});
    const std::string socket = control_socket_path(bus.path()).string();
    const auto deadline = Clock::now() + 20s;
    struct stat st {};
    while (::stat(socket.c_str(), &st) != 0) {
        REQUIRE_MESSAGE(Clock::now() < deadline,
                        "shmbusd never opened its socket: " << shmbusd.error_output());
        std::this_thread::sleep_for(5ms);  // polling pace only
    }

    const ToolResult created = run_tool({"create", "--dir", dir, "t", "--capacity", "64K",
                                         "--max-record", "1K", "--policy", "overwrite"});
    CHECK_MESSAGE(created.status() == 0, created.err);
    CHECK(created.err.find("created topic 't' directly") == std::string::npos);
    const Topic topic = Topic::open(bus.path(), "t", {.access = Access::kSubscribe});
    CHECK(topic.capacity() == 64 * 1024);
    CHECK(topic.max_record_size() == 1024);
    CHECK(topic.policy() == Policy::kOverwrite);

    // The daemon's refusals come back with their own words and status.
    const ToolResult again = run_tool({"create", "--dir", dir, "t"});
    CHECK(again.status() == 10);
    CHECK(again.err.find("already exists") != std::string::npos);
    const ToolResult bad = run_tool({"create", "--dir", dir, "u", "--capacity", "3000"});
    CHECK(bad.status() == 2);
    CHECK(bad.err.find("capacity 3000 is not a power of two") != std::string::npos);

    shmbusd.signal(SIGTERM);
    const auto exit = shmbusd.wait_until(Clock::now() + 20s);
    REQUIRE(exit.has_value());
    CHECK_MESSAGE(exit->exited, exit->describe());
}

}  // namespace shmbus::test::cli
