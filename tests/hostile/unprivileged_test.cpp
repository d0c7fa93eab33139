// What file modes add for users who are not root: a user without access gets EACCES naming the
// file; a user who may only subscribe can read records but cannot open the records file for
// writing, truncate it or write through its mapping. And what such a user *can* do hurts nobody
// but its own subscription: truncating the state file every client must write stops no other
// client, and read locks on every lock byte it can reach stall neither publishers nor repair.
// The test runs as root and drops to user nobody in forked children (tests/daemon/as_user.hpp).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <shmbus/detail/format/lock_bytes.hpp>
#include <shmbus/detail/format/wake_fifo.hpp>
#include <shmbus/detail/ring/slots.hpp>
#include <shmbus/detail/ring/unblocker.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon/as_user.hpp"
#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/payload.hpp"
#include "support/records.hpp"
#include "support/sanitizers.hpp"
#include "support/shared_block.hpp"
#include "support/skip.hpp"
#include "support/topic_files.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::BusDirectory;
using shmbus::test::bytes_of;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::deadline_in;

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
#if defined(SHMBUS_TEST_ASAN)
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
    "a subscriber-only user who truncates the state file again and again while others publish and "
    "subscribe stops nobody: every record arrives once, in order") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    // Records 0644, state 0666: nobody may subscribe (read records, write state), not publish.
    create_topics(bus, 0755, 0644, 0666, {"victim", "bystander"});
    const auto state = shmbus::test::topic_paths(bus.path(), "victim").state;
    const std::uint64_t state_size = std::filesystem::file_size(state);
    constexpr int kTruncations = 60;

    // The attacker, as nobody: truncates the state file to a page, to nothing, to a slot's
    // middle, over and over while the traffic below runs. Forked before any thread starts.
    Child attacker = Child::fork("truncating as nobody", [&](ChildLink& link) {
        if (::setgid(user->gid) != 0 || ::setuid(user->uid) != 0) return 2;
        if (link.receive() != "go") return 3;
        const off_t sizes[] = {0, 4096, 4096 + 200};
        for (int i = 0; i < kTruncations; ++i) {
            if (::truncate(state.c_str(), sizes[i % 3]) != 0) return 4;
            ::usleep(2000);
        }
        link.send("done");
        return 0;
    });

    const shmbus::Topic victim = shmbus::Topic::open(bus.path(), "victim");
    shmbus::Publisher publisher(victim);
    shmbus::Subscriber subscriber(victim, {.start = shmbus::StartAt::earliest()});
    constexpr std::uint64_t kRecordCount = 20000;
    const std::uint32_t max = victim.max_record_size();
    std::atomic<bool> attack_over{false};
    Status publish_status = Status::kOk;
    std::atomic<std::uint64_t> published{0};
    std::thread publishing([&] {
        std::vector<std::byte> buffer(max);
        // Until the attack is over and every record is out: the traffic spans the attack.
        while (published < kRecordCount || !attack_over.load()) {
            const std::uint64_t counter = published;
            const std::uint32_t length = shmbus::test::record_length(0, counter, 256);
            shmbus::test::fill_record(std::span(buffer).first(length), 0, counter);
            publish_status = publisher.offer(std::span(buffer).first(length), 20s);
            if (publish_status != Status::kOk) return;
            ++published;
            if (published % 64 == 0) std::this_thread::yield();
        }
    });
    attacker.send("go");

    shmbus::test::RecordChecker checker(256, 1, /*exact=*/true);
    std::string wrong;
    Status poll_status = Status::kOk;
    std::uint64_t received = 0;
    const auto give_up = deadline_in(60s);
    bool attack_reported = false;
    while (shmbus::test::Clock::now() < give_up) {
        const shmbus::PollResult result = subscriber.poll([&](const shmbus::Record& record) {
            if (auto problem = checker.accept(0, record.payload, 0); problem && wrong.empty()) {
                wrong = *problem;
            }
            ++received;
        });
        if (result.status != Status::kOk) {
            poll_status = result.status;
            break;
        }
        if (!attack_reported && attacker.receive_line(deadline_in(0s))) {
            attack_reported = true;
            attack_over = true;
        }
        if (attack_over && received == published && publish_status == Status::kOk &&
            published >= kRecordCount) {
            break;
        }
        if (result.records == 0) (void)subscriber.wait(5ms);
    }
    attack_over = true;
    publishing.join();
    // What the publisher sent after the last look: read it too.
    while (poll_status == Status::kOk && received < published &&
           shmbus::test::Clock::now() < give_up) {
        const shmbus::PollResult result = subscriber.poll([&](const shmbus::Record& record) {
            if (auto problem = checker.accept(0, record.payload, 0); problem && wrong.empty()) {
                wrong = *problem;
            }
            ++received;
        });
        poll_status = result.status;
        if (result.records == 0) (void)subscriber.wait(5ms);
    }
    const auto exit = attacker.wait_until(deadline_in(10s));
    REQUIRE(exit);
    CHECK_MESSAGE(exit->ok(), "the attacker " << exit->describe());
    CHECK(attack_reported);
    CHECK(publish_status == Status::kOk);
    CHECK(poll_status == Status::kOk);
    CHECK_MESSAGE(wrong.empty(), wrong);
    CHECK(received == published);
    CHECK(published >= kRecordCount);
    CHECK(subscriber.lost() == 0);
    CHECK(subscriber.corrupt() == 0);
    CHECK(subscriber.slot_restorations() >= 1);
    // The last cut may have spared every page still in use; the next open puts the file back.
    const shmbus::Topic reopened = shmbus::Topic::open(bus.path(), "victim");
    CHECK(std::filesystem::file_size(state) == state_size);
    std::printf(
        "state file truncated %d times as nobody during %llu records: the subscriber "
        "put its slot back %llu times; every record arrived once, in order\n",
        kTruncations, static_cast<unsigned long long>(published.load()),
        static_cast<unsigned long long>(subscriber.slot_restorations()));

    const shmbus::Topic bystander = shmbus::Topic::open(bus.path(), "bystander");
    shmbus::Publisher bystander_publisher(bystander);
    shmbus::Subscriber bystander_subscriber(bystander);
    REQUIRE(bystander_publisher.try_offer(bytes_of("unharmed")) == Status::kOk);
    CHECK(shmbus::test::drain(bystander_subscriber).size() == 1);
}

TEST_CASE(
    "a subscriber-only user that read-locks every lock byte it can reach stalls neither "
    "publishers nor the repair of a dead publisher's claim") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    REQUIRE(::chmod(bus.path().c_str(), 0755) == 0);
    shmbus::TopicOptions options = kSmall;
    options.records.mode = 0644;
    options.state.mode = 0666;
    options.max_publishers = 4;
    options.max_subscribers = 4;
    shmbus::create_topic(bus.path(), "t", options);
    const auto paths = shmbus::test::topic_paths(bus.path(), "t");
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Subscriber reader(topic, {.start = shmbus::StartAt::earliest()});

    // A subscriber that dies: its slot is left ACTIVE for a reclaimer, and the squatter below
    // read-locks its byte to make it look alive.
    Child doomed = Child::fork("subscriber to die", [&](ChildLink& link) {
        shmbus::Subscriber subscriber(shmbus::Topic::open(bus.path(), "t"));
        link.send(std::to_string(subscriber.slot()));
        (void)link.receive();
        return 0;
    });
    const auto doomed_slot = doomed.receive_line(deadline_in(10s));
    REQUIRE(doomed_slot);
    REQUIRE(doomed.kill_and_reap().signal == SIGKILL);

    // The squatter, as nobody: a read lock on every byte the old layout and the new one lock,
    // in every topic file it can open; it cannot open the locks file at all.
    Child squatter = Child::fork("read-locking as nobody", [&](ChildLink& link) {
        if (::setgid(user->gid) != 0 || ::setuid(user->uid) != 0) return 2;
        const int records = ::open(paths.records.c_str(), O_RDONLY | O_CLOEXEC);
        const int state_fd = ::open(paths.state.c_str(), O_RDWR | O_CLOEXEC);
        if (records < 0 || state_fd < 0) return 3;
        const bool locks_refused =
            ::open(paths.locks.c_str(), O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES &&
            ::open(paths.locks.c_str(), O_WRONLY | O_CLOEXEC) < 0 && errno == EACCES;
        int taken = 0;
        const auto read_lock = [&](int fd, std::uint64_t byte) {
            struct flock lock {};
            lock.l_type = F_RDLCK;
            lock.l_whence = SEEK_SET;
            lock.l_start = static_cast<off_t>(byte);
            lock.l_len = 1;
            if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) ++taken;
        };
        using shmbus::format::kLockBase;
        for (const std::uint64_t byte : {kLockBase + 0, kLockBase + 1})
            read_lock(records, byte);
        for (std::uint32_t i = 0; i < 4; ++i) {
            read_lock(records, shmbus::format::slot_lock_byte(i));
            read_lock(state_fd, shmbus::format::slot_lock_byte(i));
        }
        link.send(std::to_string(taken) + (locks_refused ? " locks-refused" : " locks-opened"));
        (void)link.receive();  // hold them until the test is done
        return 0;
    });
    const auto squatting = squatter.receive_line(deadline_in(10s));
    REQUIRE(squatting);
    // Every byte it tried: two and four on the records file, four on the state file, but for
    // the slots held with write locks (the reader's): those refuse a read lock.
    CHECK_MESSAGE(squatting->find(" locks-refused") != std::string::npos, *squatting);
    INFO("squatter: " << *squatting);

    using Clock = std::chrono::steady_clock;
    // The dead subscriber is reclaimed although its byte is read-locked: liveness is a write lock.
    const auto reclaim_start = Clock::now();
    CHECK(shmbus::ring::reclaim_dead_subscribers(topic.view(), topic.state_fd()) == 1);
    CHECK(topic.view().subscribers[std::stoul(*doomed_slot)].state == shmbus::format::kSlotFree);
    const auto reclaimed_in = Clock::now() - reclaim_start;

    // Every publisher slot can be taken, and 1000 records go through.
    const auto publish_start = Clock::now();
    std::vector<std::unique_ptr<shmbus::Publisher>> publishers;
    for (int i = 0; i < 4; ++i)
        publishers.push_back(std::make_unique<shmbus::Publisher>(topic));
    std::uint64_t sent = 0;
    for (int i = 0; i < 1000; ++i) {
        if (publishers[static_cast<std::size_t>(i % 4)]->offer(bytes_of("r"), 5s) == Status::kOk) {
            ++sent;
        }
        if (i % 50 == 49) (void)shmbus::test::drain(reader);
    }
    CHECK(sent == 1000);
    CHECK(reader.consumed() + shmbus::test::drain(reader).size() == 1000);
    const auto published_in = Clock::now() - publish_start;

    // A publisher that dies holding a claim: the repair goes through the locks file.
    publishers.pop_back();
    Child dying = Child::fork("publisher to die mid-claim", [&](ChildLink& link) {
        shmbus::Publisher publisher(shmbus::Topic::open(bus.path(), "t"));
        shmbus::Claim claim = publisher.try_claim(16);
        if (!claim) return 2;
        link.send("claimed");
        (void)link.receive();
        return 0;
    });
    REQUIRE(dying.receive_line(deadline_in(10s)) == "claimed");
    REQUIRE(dying.kill_and_reap().signal == SIGKILL);
    REQUIRE(publishers[0]->try_offer(bytes_of("after the dead claim")) == Status::kOk);
    const auto repair_start = Clock::now();
    const shmbus::ring::RepairReport report =
        shmbus::ring::repair_at_floor(topic.view(), topic.locks_fd());
    CHECK(report.outcome == shmbus::ring::RepairOutcome::kRepaired);
    const auto repaired_in = Clock::now() - repair_start;
    const auto after = shmbus::test::drain(reader);
    REQUIRE(after.size() == 1);
    CHECK(after[0].payload == bytes_of("after the dead claim"));
    CHECK(reader.voided() == 1);
    squatter.send("done");
    CHECK(squatter.wait_until(deadline_in(10s)).has_value());

    const auto us = [](Clock::duration d) {
        return std::chrono::duration<double, std::micro>(d).count();
    };
    std::printf(
        "with every reachable lock byte read-locked by nobody: reclaimed the dead "
        "subscriber in %.0f us, attached 4 publishers and moved 1000 records in %.0f us, "
        "repaired a dead claim in %.0f us\n",
        us(reclaimed_in), us(published_in), us(repaired_in));
}

TEST_CASE(
    "a subscriber under another user is woken through its wake descriptor by publishers, can wake "
    "nobody itself, and no wake FIFO is writable by everyone") {
    const auto user = nobody();
    if (!user) return;
    BusDirectory bus;
    create_topics(bus, 0755, 0644, 0666, {"t"});
    const auto wake = bus.path() / "t" / shmbus::format::kWakeDirectory;
    for (const auto& entry : std::filesystem::directory_iterator(wake)) {
        struct stat st {};
        REQUIRE(::lstat(entry.path().c_str(), &st) == 0);
        CHECK(S_ISFIFO(st.st_mode));
        CHECK((st.st_mode & 07777) == 0644);  // the records file's: write for publishers only
        CHECK((st.st_mode & S_IWOTH) == 0);
    }

    Child waiting = Child::fork("subscriber as nobody", [&](ChildLink& link) {
        if (::setgid(user->gid) != 0 || ::setuid(user->uid) != 0) return 2;
        const shmbus::Topic topic =
            shmbus::Topic::open(bus.path(), "t", {.access = shmbus::Access::kSubscribe});
        shmbus::Subscriber subscriber(topic);
        shmbus::WaitSet waits;
        waits.add(subscriber, 1);
        // It cannot write any slot's FIFO, its own or another's: nobody but a publisher wakes.
        int refused = 0;
        for (std::uint32_t slot = 0; slot < topic.view().max_subscribers; ++slot) {
            const auto fifo = shmbus::format::wake_fifo_path(bus.path() / "t", slot);
            const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0 && errno == EACCES) ++refused;
            if (fd >= 0) ::close(fd);
        }
        if (refused != static_cast<int>(topic.view().max_subscribers)) return 3;
        link.send("waiting");
        const auto ready = waits.wait(std::chrono::seconds(20));
        if (ready.size() != 1) return 4;
        std::string received;
        (void)subscriber.poll([&](const shmbus::Record& record) {
            received.assign(reinterpret_cast<const char*>(record.payload.data()),
                            record.payload.size());
        });
        return received == "for nobody" ? 0 : 5;
    });
    REQUIRE(waiting.receive_line(deadline_in(10s)) == "waiting");
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    shmbus::Publisher publisher(topic);
    REQUIRE(publisher.try_offer(bytes_of("for nobody")) == Status::kOk);
    const auto exit = waiting.wait_until(deadline_in(20s));
    REQUIRE(exit);
    CHECK_MESSAGE(exit->ok(), "the subscriber " << exit->describe());
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
