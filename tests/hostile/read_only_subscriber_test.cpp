// A subscriber-only handle (Access::kSubscribe) cannot change a record: the records file is
// opened read-only and mapped PROT_READ, so a store into the mapping faults, the mapping cannot
// be made writable, not even a forced write through /proc/self/mem gets in, and the descriptor
// can neither truncate nor punch holes in the file. These hold whatever the file's mode says, so
// they are tested here as any user; tests/hostile/unprivileged_test.cpp adds what file modes add
// for a user who may only subscribe.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <shmbus/shmbus.hpp>
#include <string>

#include "support/bus_directory.hpp"
#include "support/child_process.hpp"
#include "support/records.hpp"
#include "support/sanitizers.hpp"
#include "support/skip.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::Status;
using shmbus::test::BusDirectory;
using shmbus::test::bytes_of;
using shmbus::test::Child;
using shmbus::test::ChildLink;
using shmbus::test::deadline_in;

const std::string kRecord = "a record nobody may change";

/// A topic holding one record, and a subscriber-only handle on it.
struct OneRecordTopic {
    BusDirectory bus;
    shmbus::Topic read_only;

    OneRecordTopic() : read_only(make(bus)) {}

    static shmbus::Topic make(const BusDirectory& bus) {
        shmbus::create_topic(bus.path(), "t", {.capacity = 64 * 1024, .max_record_size = 1024});
        {
            shmbus::Publisher publisher(shmbus::Topic::open(bus.path(), "t"));
            REQUIRE(publisher.try_offer(bytes_of(kRecord)) == Status::kOk);
        }
        return shmbus::Topic::open(bus.path(), "t", {.access = shmbus::Access::kSubscribe});
    }

    /// The first record's payload in the read-only mapping.
    [[nodiscard]] std::byte* payload() const { return read_only.view().payload(0); }

    /// What a fresh subscriber reads from the start of the ring: must be exactly kRecord.
    [[nodiscard]] bool intact() const {
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
        shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
        const auto received = shmbus::test::drain(subscriber);
        return received.size() == 1 && received[0].payload == bytes_of(kRecord) &&
               subscriber.corrupt() == 0;
    }
};

}  // namespace

TEST_CASE(
    "a subscriber-only process that stores into its records mapping dies of SIGSEGV and the "
    "record stays intact") {
    OneRecordTopic topic;
    REQUIRE(std::memcmp(topic.payload(), kRecord.data(), kRecord.size()) == 0);
    Child child = Child::fork("scribbler", [&topic](ChildLink& link) {
        const shmbus::Topic own =
            shmbus::Topic::open(topic.bus.path(), "t", {.access = shmbus::Access::kSubscribe});
        shmbus::Subscriber subscriber(own, {.start = shmbus::StartAt::earliest()});
        if (shmbus::test::drain(subscriber).size() != 1) return 2;
        link.send("read it");
        ::signal(SIGSEGV, SIG_DFL);  // not the test framework's crash report: just die
        auto* target = reinterpret_cast<volatile char*>(own.view().payload(0));
        target[0] = 'X';  // must fault
        return 0;
    });
    REQUIRE(child.receive_line(deadline_in(10s)) == "read it");
    const auto exit = child.wait_until(deadline_in(10s));
    REQUIRE(exit);
#if defined(SHMBUS_TEST_ASAN)
    // AddressSanitizer catches the SIGSEGV first, reports the write and exits non-zero.
    CHECK_MESSAGE(!exit->ok(), "the scribbler " << exit->describe());
#else
    CHECK_MESSAGE(!exit->exited, "the scribbler " << exit->describe());
    CHECK(exit->signal == SIGSEGV);
#endif
    CHECK(topic.intact());
}

TEST_CASE("a subscriber-only mapping cannot be made writable") {
    OneRecordTopic topic;
    auto* page = reinterpret_cast<void*>(topic.read_only.view().records);
    errno = 0;
    CHECK(::mprotect(page, 4096, PROT_READ | PROT_WRITE) == -1);
    CHECK(errno == EACCES);
    CHECK(topic.intact());
}

TEST_CASE(
    "not even a forced write through /proc/self/mem changes a record behind a read-only map") {
    OneRecordTopic topic;
    const int memory = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (memory < 0) {
        shmbus::test::skip(std::string("/proc/self/mem cannot be opened here (") +
                           std::strerror(errno) + ")");
        return;
    }
    const char scribble = 'X';
    errno = 0;
    const ssize_t wrote =
        ::pwrite(memory, &scribble, 1,
                 static_cast<off_t>(reinterpret_cast<std::uintptr_t>(topic.payload())));
    const int error = errno;
    ::close(memory);
    CHECK(wrote == -1);
    CHECK_MESSAGE(error == EIO, "errno " << error << " (" << std::strerror(error) << ")");
    CHECK(topic.intact());
}

TEST_CASE(
    "a subscriber-only descriptor can neither truncate the records file nor punch holes in it") {
    OneRecordTopic topic;
    const int fd = topic.read_only.records_fd();
    errno = 0;
    CHECK(::ftruncate(fd, 0) == -1);
    CHECK((errno == EINVAL || errno == EBADF));
    errno = 0;
    CHECK(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 16) == -1);
    CHECK(errno == EBADF);
    CHECK(topic.intact());
}

TEST_CASE("a subscriber-only handle refuses to make a publisher") {
    OneRecordTopic topic;
    try {
        shmbus::Publisher publisher(topic.read_only);
        FAIL("a publisher was made from a subscriber-only handle");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == shmbus::ErrorCode::kPermission);
        CHECK(std::string(error.what()).find("was opened for subscribing only") !=
              std::string::npos);
    }
    CHECK(topic.intact());
}
