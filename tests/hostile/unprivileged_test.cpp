// What file modes add for users who are not root: a user without access gets EACCES naming the
// file; a user who may only subscribe can read records but cannot open the records file for
// writing, truncate it or write through its mapping; and what such a user *can* do, truncate the
// state file every client must write, costs that one topic and nothing else. The test runs as
// root and drops to user nobody in forked children (tests/daemon/as_user.hpp).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <shmbus/shmbus.hpp>
#include <string>

#include "daemon/as_user.hpp"
#include "support/bus_directory.hpp"
#include "support/records.hpp"
#include "support/shared_block.hpp"
#include "support/skip.hpp"
#include "support/topic_files.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::BusDirectory;
using shmbus::test::bytes_of;

struct Nobody {
    uid_t uid;
    gid_t gid;
};

/// User nobody, when the test may become it; nullopt (and a printed reason) otherwise.
std::optional<Nobody> nobody() {
    if (::geteuid() != 0) {
        shmbus::test::skip("acting as another user needs root");
        return std::nullopt;
    }
    const passwd* entry = ::getpwnam("nobody");
    if (entry == nullptr) {
        shmbus::test::skip("there is no user nobody");
        return std::nullopt;
    }
    return Nobody{entry->pw_uid, entry->pw_gid};
}

/// What a child running as nobody saw, for the test to check.
struct Seen {
    int code = -1;         // ErrorCode, or -1 for no error
    int system_errno = 0;  // Error::system_errno()
    char message[1024] = {};
    void record(const shmbus::Error& error) {
        code = static_cast<int>(error.code());
        system_errno = error.system_errno();
        std::strncpy(message, error.what(), sizeof message - 1);
    }
};

/// Opens `name` with `access` as the calling user, recording the error it throws.
int try_open(const std::filesystem::path& dir, const char* name, shmbus::Access access,
             Seen& seen) {
    try {
        (void)shmbus::Topic::open(dir, name, {.access = access});
        return 0;
    } catch (const shmbus::Error& error) {
        seen.record(error);
        return 1;
    }
}

bool contains(const char* text, const std::string& part) {
    return std::string(text).find(part) != std::string::npos;
}

const shmbus::TopicOptions kSmall{.capacity = 64 * 1024, .max_record_size = 1024};

/// Gives the bus directory `directory_mode` and creates topics `names` in it (as root), with
/// records and state files of the given modes.
void create_topics(const BusDirectory& bus, mode_t directory_mode, mode_t records_mode,
                   mode_t state_mode, std::initializer_list<const char*> names) {
    REQUIRE(::chmod(bus.path().c_str(), directory_mode) == 0);
    shmbus::TopicOptions options = kSmall;
    options.records.mode = records_mode;
    options.state.mode = state_mode;
    for (const char* name : names)
        shmbus::create_topic(bus.path(), name, options);
}

}  // namespace

TEST_CASE("a user without access to a topic gets EACCES naming the file, to publish or subscribe") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    REQUIRE(::chmod(bus.path().c_str(), 0755) == 0);
    shmbus::create_topic(bus.path(), "private", kSmall);  // root's: records 0640, state 0660
    const std::string records = (bus.path() / "private" / "records").string();
    shmbus::test::SharedBlock<Seen> publish;
    shmbus::test::SharedBlock<Seen> subscribe;

    CHECK(shmbus::test::run_as(user->uid, user->gid, {}, [&] {
              return try_open(bus.path(), "private", shmbus::Access::kPublish, *publish);
          }) == 1);
    CHECK(publish->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK(publish->system_errno == EACCES);
    CHECK_MESSAGE(
        contains(publish->message, "topic 'private' in " + bus.path().string() +
                                       ": permission denied opening records file " + records +
                                       " (read-write (publish) access is "
                                       "needed)"),
        publish->message);

    CHECK(shmbus::test::run_as(user->uid, user->gid, {}, [&] {
              return try_open(bus.path(), "private", shmbus::Access::kSubscribe, *subscribe);
          }) == 1);
    CHECK(subscribe->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK(subscribe->system_errno == EACCES);
    CHECK_MESSAGE(contains(subscribe->message, "permission denied opening records file " + records +
                                                   " (read (subscribe) access is needed)"),
                  subscribe->message);
}

TEST_CASE("a topic directory without search permission keeps a user out with EACCES") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    REQUIRE(::chmod(bus.path().c_str(), 0755) == 0);
    shmbus::TopicOptions open_files = kSmall;
    open_files.records.mode = 0644;
    open_files.state.mode = 0666;
    open_files.directory.mode = 0700;  // the files would admit anyone; the directory does not
    shmbus::create_topic(bus.path(), "gated", open_files);
    shmbus::test::SharedBlock<Seen> seen;
    CHECK(shmbus::test::run_as(user->uid, user->gid, {}, [&] {
              return try_open(bus.path(), "gated", shmbus::Access::kSubscribe, *seen);
          }) == 1);
    CHECK(seen->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK(seen->system_errno == EACCES);
    CHECK_MESSAGE(contains(seen->message, "permission denied opening records file"), seen->message);
}

TEST_CASE("a user who may read records but not write the state file is told which file") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    create_topics(bus, 0755, 0644, 0644, {"half"});
    shmbus::test::SharedBlock<Seen> seen;
    CHECK(shmbus::test::run_as(user->uid, user->gid, {}, [&] {
              return try_open(bus.path(), "half", shmbus::Access::kSubscribe, *seen);
          }) == 1);
    CHECK(seen->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK(seen->system_errno == EACCES);
    CHECK_MESSAGE(contains(seen->message, "permission denied opening state file " +
                                              (bus.path() / "half" / "state").string() +
                                              " (read-write access is needed)"),
                  seen->message);
}

TEST_CASE(
    "a user who may only subscribe cannot open the records file for writing, truncate it, or "
    "write through the mapping") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    create_topics(bus, 0755, 0644, 0666,
                  {"t"});  // records: read for the subscribers, written by the owner only
    const std::string record = "written by the publisher";
    {
        shmbus::Publisher publisher(shmbus::Topic::open(bus.path(), "t"));
        REQUIRE(publisher.try_offer(bytes_of(record)) == Status::kOk);
    }
    const auto records = shmbus::test::topic_paths(bus.path(), "t").records;
    struct stat before {};
    REQUIRE(::stat(records.c_str(), &before) == 0);

    shmbus::test::SharedBlock<Seen> publish;
    // Each step returns its own status, so a failure says which one let the user through.
    const int status = shmbus::test::run_as(user->uid, user->gid, {}, [&]() -> int {
        if (try_open(bus.path(), "t", shmbus::Access::kPublish, *publish) != 1) return 10;
        if (::open(records.c_str(), O_RDWR | O_CLOEXEC) != -1 || errno != EACCES) return 11;
        if (::truncate(records.c_str(), 0) != -1 || errno != EACCES) return 12;
        const shmbus::Topic topic =
            shmbus::Topic::open(bus.path(), "t", {.access = shmbus::Access::kSubscribe});
        shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
        const auto received = shmbus::test::drain(subscriber);
        if (received.size() != 1 || received[0].payload != bytes_of(record)) return 13;
        if (::mprotect(topic.view().records, 4096, PROT_READ | PROT_WRITE) != -1 ||
            errno != EACCES) {
            return 14;
        }
        // The store itself, in a child of this child, so that its death is observable.
        const pid_t scribbler = ::fork();
        if (scribbler == 0) {
            ::signal(SIGSEGV, SIG_DFL);  // not the test framework's crash report: just die
            reinterpret_cast<volatile char*>(topic.view().payload(0))[0] = 'X';
            ::_exit(0);
        }
        int raw = 0;
        if (::waitpid(scribbler, &raw, 0) != scribbler) return 15;
#if defined(__SANITIZE_ADDRESS__)
        if (WIFEXITED(raw) && WEXITSTATUS(raw) == 0) return 16;
#else
        if (!WIFSIGNALED(raw) || WTERMSIG(raw) != SIGSEGV) return 16;
#endif
        return 0;
    });
    CHECK(status == 0);
    CHECK(publish->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK(publish->system_errno == EACCES);

    struct stat after {};
    REQUIRE(::stat(records.c_str(), &after) == 0);
    CHECK(after.st_size == before.st_size);
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
    const auto received = shmbus::test::drain(subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == bytes_of(record));
}

TEST_CASE(
    "a subscriber-only user who truncates the state file costs that topic its clients, and no "
    "other topic anything") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    create_topics(bus, 0755, 0644, 0666, {"victim", "bystander"});
    const shmbus::Topic victim = shmbus::Topic::open(bus.path(), "victim");
    const shmbus::Topic bystander = shmbus::Topic::open(bus.path(), "bystander");
    shmbus::Publisher victim_publisher(victim);
    shmbus::Subscriber victim_subscriber(victim);
    shmbus::Publisher bystander_publisher(bystander);
    shmbus::Subscriber bystander_subscriber(bystander);
    REQUIRE(victim_publisher.try_offer(bytes_of("before")) == Status::kOk);

    const auto state = shmbus::test::topic_paths(bus.path(), "victim").state;
    CHECK(shmbus::test::run_as(user->uid, user->gid, {},
                               [&] { return ::truncate(state.c_str(), 0) == 0 ? 0 : 1; }) == 0);

    Status poll = Status::kOk;
    for (int i = 0; i < 2 && poll == Status::kOk; ++i) {
        poll = victim_subscriber.poll([](const shmbus::Record&) {}).status;
    }
    CHECK(poll == Status::kTopicLost);
    Status publish = Status::kOk;
    for (int i = 0; i < 2 && publish == Status::kOk; ++i) {
        publish = victim_publisher.try_offer(bytes_of("after"));
    }
    CHECK(publish == Status::kTopicLost);

    REQUIRE(bystander_publisher.try_offer(bytes_of("unharmed")) == Status::kOk);
    const auto received = shmbus::test::drain(bystander_subscriber);
    REQUIRE(received.size() == 1);
    CHECK(received[0].payload == bytes_of("unharmed"));
}

TEST_CASE("a user who cannot search the bus directory cannot list or open its topics") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    create_topics(bus, 0700, 0644, 0666, {"t"});
    shmbus::test::SharedBlock<Seen> listing;
    shmbus::test::SharedBlock<Seen> opening;
    CHECK(shmbus::test::run_as(user->uid, user->gid, {}, [&]() -> int {
              try {
                  (void)shmbus::list_topics(bus.path());
              } catch (const shmbus::Error& error) {
                  listing->record(error);
              }
              return try_open(bus.path(), "t", shmbus::Access::kSubscribe, *opening);
          }) == 1);
    CHECK(listing->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK_MESSAGE(contains(listing->message, "listing bus directory " + bus.path().string()),
                  listing->message);
    CHECK(opening->code == static_cast<int>(shmbus::ErrorCode::kPermission));
    CHECK(opening->system_errno == EACCES);
}
