// The control plane end to end: clients asking shmbusd for topics over its socket, the rules
// that decide who may, and the owner, group and modes the daemon gives what it creates.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <shmbus/shmbus.hpp>
#include <string>

#include "as_user.hpp"
#include "config_values.hpp"
#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;
namespace control = shmbus::control;

namespace {

/// Sends `message` as it is, bypassing the client library's own checks, and returns the reply.
std::string raw_exchange(const std::filesystem::path& dir, const std::string& message) {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = shmbus::control_socket_path(dir).string();
    REQUIRE(path.size() < sizeof address.sun_path);
    std::strcpy(address.sun_path, path.c_str());
    const timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::send(fd, message.data(), message.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(message.size()));
    std::string reply(8192, '\0');
    const ssize_t got = ::recv(fd, reply.data(), reply.size(), 0);
    ::close(fd);
    REQUIRE(got > 0);
    reply.resize(static_cast<std::size_t>(got));
    return reply;
}

shmbus::ErrorCode code_of(auto&& call) {
    try {
        call();
    } catch (const shmbus::Error& error) {
        return error.code();
    }
    FAIL("no error");
    return shmbus::ErrorCode::kSystem;
}

std::string message_of(auto&& call) {
    try {
        call();
    } catch (const shmbus::Error& error) {
        return error.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

bool is_root() {
    return ::geteuid() == 0;
}

}  // namespace

TEST_CASE(
    "a client gets a topic from the daemon, with its defaults filling what it leaves unsaid") {
    BusDirectory bus;
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config,
               "[defaults]\ncapacity = \"256KiB\"\nmax_record_size = \"4KiB\"\n"
               "[control]\nmax_capacity = \"1MiB\"\nmax_topics = 3\n");
    Daemon daemon({.dir = bus.path(), .config = config});

    CHECK(shmbus::ensure_topic(bus.path(), "defaulted"));
    const shmbus::Topic defaulted = shmbus::Topic::open(bus.path(), "defaulted");
    CHECK(defaulted.capacity() == 256 * 1024);
    CHECK(defaulted.max_record_size() == 4096);
    // Asking again is fine while it agrees on what it names; differing is kExists.
    CHECK_FALSE(shmbus::ensure_topic(bus.path(), "defaulted", {.capacity = 256 * 1024}));
    CHECK(contains(message_of([&] {
                       (void)shmbus::ensure_topic(bus.path(), "defaulted",
                                                  {.capacity = 512 * 1024});
                   }),
                   "capacity is 256 KiB in the file, 512 KiB in the request"));

    // open_or_create: the library's call for "use it, making it if need be".
    const shmbus::Topic made = shmbus::open_or_create(
        bus.path(), "made", {.capacity = 64 * 1024, .max_record_size = 1024});
    CHECK(made.capacity() == 64 * 1024);
    CHECK(daemon.wait_for_log("created topic 'made' for pid " + std::to_string(::getpid())));
    CHECK(daemon.wait_for_log("supervising topic 'made'"));

    // Impossible layouts come back with the library's reason.
    CHECK(contains(
        message_of([&] { (void)shmbus::ensure_topic(bus.path(), "odd", {.capacity = 3000}); }),
        "power of two"));
    // The configured ceilings.
    CHECK(code_of([&] { (void)shmbus::ensure_topic(bus.path(), "huge", {.capacity = 4 << 20}); }) ==
          shmbus::ErrorCode::kInvalidArgument);
    CHECK(contains(
        message_of([&] { (void)shmbus::ensure_topic(bus.path(), "huge", {.capacity = 4 << 20}); }),
        "control.max_capacity"));
    CHECK(shmbus::ensure_topic(bus.path(), "third"));
    CHECK(code_of([&] { (void)shmbus::ensure_topic(bus.path(), "fourth"); }) ==
          shmbus::ErrorCode::kNoSpace);
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE("topic names that could escape the bus directory are refused by the daemon itself") {
    BusDirectory bus;
    Daemon daemon({.dir = bus.path()});
    // The library refuses before asking...
    CHECK(code_of([&] { shmbus::request_topic(bus.path(), "../etc/passwd"); }) ==
          shmbus::ErrorCode::kInvalidArgument);
    // ...and a client that bypasses it gets the same answer from the daemon.
    for (const std::string name : {"../etc/passwd", "..", "a/b", ".shmbusd.sock", "", "x\ny"}) {
        control::CreateRequest request;
        request.name = name;
        const control::Reply reply =
            control::decode_reply(raw_exchange(bus.path(), control::encode_request(request)));
        CHECK_FALSE(reply.ok);
        CHECK(reply.code == shmbus::ErrorCode::kInvalidArgument);
        CHECK(contains(reply.message, "topic name"));
    }
    CHECK_FALSE(std::filesystem::exists(bus.path().parent_path() / "etc"));
    // Garbage gets a reasoned refusal, and the daemon serves the next client as before.
    const control::Reply garbage =
        control::decode_reply(raw_exchange(bus.path(), "GET / HTTP/1.0\r\n\r\n"));
    CHECK(garbage.code == shmbus::ErrorCode::kInvalidArgument);
    CHECK(contains(garbage.message, "shmbus-control 1"));
    CHECK(shmbus::ensure_topic(bus.path(), "fine"));
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE("a client that connects and says nothing does not hold up anyone else") {
    BusDirectory bus;
    Daemon daemon({.dir = bus.path()});
    const int idle = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, shmbus::control_socket_path(bus.path()).c_str());
    REQUIRE(::connect(idle, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    const auto started = SteadyClock::now();
    CHECK(shmbus::ensure_topic(bus.path(), "served"));
    CHECK(SteadyClock::now() - started < 2s);
    ::close(idle);
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE("with no daemon, asking for a topic says no daemon listens") {
    BusDirectory bus;
    const std::string message = message_of([&] { shmbus::request_topic(bus.path(), "t"); });
    CHECK(contains(message, "no shmbusd listens on"));
    CHECK(code_of([&] { shmbus::request_topic(bus.path(), "t"); }) == shmbus::ErrorCode::kNotFound);
}

TEST_CASE("only root, the daemon's user and the allowed users and groups may create topics") {
    if (!is_root()) {
        shmbus::test::skip("needs root to act as other users");
        return;
    }
    const auto nobody = shmbusd::lookup_user("nobody");
    const auto nogroup = shmbusd::lookup_group("nogroup");
    const auto allowed = shmbusd::lookup_group("sys");
    if (!nobody || !nogroup || !allowed) {
        shmbus::test::skip("needs user nobody and groups nogroup and sys");
        return;
    }
    BusDirectory bus;
    ::chmod(bus.path().c_str(), 0755);
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, "[control]\nallow_groups = [\"sys\"]\n");
    Daemon daemon({.dir = bus.path(), .config = config});
    const auto ask = [&](const std::string& name) {
        return [&, name]() -> int {
            try {
                shmbus::request_topic(bus.path(), name, {.capacity = 4096, .max_record_size = 256});
                return 0;
            } catch (const shmbus::Error& error) {
                std::fprintf(stderr, "%s\n", error.what());
                return error.code() == shmbus::ErrorCode::kPermission ? 13 : 1;
            }
        };
    };
    CHECK(run_as(*nobody, *nogroup, {}, ask("stranger")) == 13);
    CHECK_FALSE(std::filesystem::exists(bus.path() / "stranger"));
    CHECK(daemon.wait_for_log("may not create topics on this bus"));
    CHECK(run_as(*nobody, *nogroup, {*allowed}, ask("member")) == 0);  // supplementary group
    CHECK(run_as(*nobody, *allowed, {}, ask("primary")) == 0);         // primary group
    CHECK(std::filesystem::exists(bus.path() / "member" / "records"));
    CHECK(daemon.stop()->status == 0);
}

TEST_CASE(
    "topic files get the configured owner, group and modes, and they admit exactly who they "
    "should") {
    if (!is_root()) {
        shmbus::test::skip("needs root to give files to other groups and act as other users");
        return;
    }
    const auto nobody = shmbusd::lookup_user("nobody");
    const auto nogroup = shmbusd::lookup_group("nogroup");
    const auto pub = shmbusd::lookup_group("daemon");
    const auto sub = shmbusd::lookup_group("sys");
    if (!nobody || !nogroup || !pub || !sub) {
        shmbus::test::skip("needs user nobody and groups nogroup, daemon and sys");
        return;
    }
    BusDirectory bus;
    ::chmod(bus.path().c_str(), 0755);
    const auto config = bus.path() / ".shmbusd.toml";
    write_file(config, R"(
[topics.guarded]
capacity = "64KiB"
max_record_size = "1KiB"
publishers = { group = "daemon", mode = "0664" }
subscribers = { group = "sys", mode = "0660" }
)");
    Daemon daemon({.dir = bus.path(), .config = config});
    CHECK(daemon.log().find("warn") == std::string::npos);
    struct stat records {
    }, state{}, directory{};
    REQUIRE(::stat((bus.path() / "guarded" / "records").c_str(), &records) == 0);
    REQUIRE(::stat((bus.path() / "guarded" / "state").c_str(), &state) == 0);
    REQUIRE(::stat((bus.path() / "guarded").c_str(), &directory) == 0);
    CHECK((records.st_mode & 07777) == 0664);
    CHECK(records.st_gid == *pub);
    CHECK((state.st_mode & 07777) == 0660);
    CHECK(state.st_gid == *sub);
    CHECK((directory.st_mode & 07777) == 0750);
    CHECK(directory.st_gid == *sub);

    const auto publish = [&]() -> int {
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "guarded");
        shmbus::Publisher publisher(topic);
        const std::string record = "from a publisher";
        return publisher.try_offer(std::as_bytes(std::span(record))) == shmbus::Status::kOk ? 0 : 2;
    };
    const auto subscribe = [&]() -> int {
        const shmbus::Topic topic =
            shmbus::Topic::open(bus.path(), "guarded", {.access = shmbus::Access::kSubscribe});
        shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
        return subscriber.poll([](const shmbus::Record&) {}).records == 1 ? 0 : 2;
    };
    const auto refused = [](auto body) {
        return [body]() -> int {
            try {
                return body() == 0 ? 0 : 2;
            } catch (const shmbus::Error& error) {
                return error.code() == shmbus::ErrorCode::kPermission ? 13 : 1;
            }
        };
    };
    // A publisher is in both groups: write the records, and reach and write the state.
    CHECK(run_as(*nobody, *pub, {*sub}, publish) == 0);
    // A subscriber (group sys only) reads records and writes its position, and cannot publish.
    CHECK(run_as(*nobody, *sub, {}, subscribe) == 0);
    CHECK(run_as(*nobody, *sub, {}, refused(publish)) == 13);
    // Anyone else cannot even reach the files: the directory keeps them out.
    CHECK(run_as(*nobody, *nogroup, {}, refused(subscribe)) == 13);

    // A reload applies changed access to the existing topic, records and all.
    write_file(config, R"(
[topics.guarded]
capacity = "64KiB"
max_record_size = "1KiB"
publishers = { group = "sys", mode = "0660" }
subscribers = { group = "sys", mode = "0660" }
)");
    daemon.program().signal(SIGHUP);
    REQUIRE(daemon.wait_for_log("reloaded:"));
    REQUIRE(::stat((bus.path() / "guarded" / "records").c_str(), &records) == 0);
    CHECK((records.st_mode & 07777) == 0660);
    CHECK(records.st_gid == *sub);
    // Now the subscribers' group may publish too; the record published earlier is still there.
    CHECK(run_as(*nobody, *sub, {}, publish) == 0);
    CHECK(shmbus::collect_stats(shmbus::Topic::open(bus.path(), "guarded")).tail_sequence == 2);
    CHECK(daemon.stop()->status == 0);
}
