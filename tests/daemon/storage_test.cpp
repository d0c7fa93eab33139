// A full file system is a clear error when a topic is created, never a crash and never a
// SIGBUS later (topics are allocated up front with posix_fallocate).
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <shmbus/shmbus.hpp>
#include <string>

#include "daemon_harness.hpp"
#include "support/bus_directory.hpp"
#include "support/skip.hpp"

using namespace shmbus::test;

namespace {

/// A small tmpfs, unmounted (lazily, so a straggler cannot keep it busy) at the end.
class SmallTmpfs {
  public:
    explicit SmallTmpfs(std::filesystem::path path) : path_(std::move(path)) {
        std::filesystem::create_directory(path_);
        mounted_ = ::mount("shmbus-test", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                           "size=1m,mode=0755") == 0;
        if (!mounted_) error_ = std::strerror(errno);
    }
    ~SmallTmpfs() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    SmallTmpfs(const SmallTmpfs&) = delete;
    SmallTmpfs& operator=(const SmallTmpfs&) = delete;
    [[nodiscard]] bool mounted() const noexcept { return mounted_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

  private:
    std::filesystem::path path_;
    bool mounted_ = false;
    std::string error_;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "a topic too large for its file system is a clear creation error and the daemon runs on") {
    if (::geteuid() != 0) {
        shmbus::test::skip("mounting a small tmpfs needs root");
        return;
    }
    BusDirectory base;
    const auto dir = base.path() / "bus";
    SmallTmpfs tmpfs(dir);
    if (!tmpfs.mounted()) {
        shmbus::test::skip(std::string("cannot mount a tmpfs here (") + tmpfs.error() + ")");
        return;
    }
    const auto config = base.path() / "shmbusd.toml";
    write_file(config, R"(
[topics.too-big]
capacity = "4MiB"
[topics.fits]
capacity = "64KiB"
max_record_size = "1KiB"
)");
    Daemon daemon({.dir = dir, .config = config});
    CHECK(daemon.wait_for_log("cannot create configured topic 'too-big'"));
    CHECK(daemon.wait_for_log("no space for"));
    CHECK(daemon.wait_for_log("free space or lower the topic's capacity"));
    CHECK_FALSE(std::filesystem::exists(dir / "too-big"));
    CHECK(std::filesystem::exists(dir / "fits" / "records"));

    // A request that does not fit gets the same reason back; one that fits still works.
    try {
        shmbus::request_topic(dir, "requested", {.capacity = 2 << 20});
        FAIL("a 2 MiB topic was created on a 1 MiB tmpfs");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == shmbus::ErrorCode::kNoSpace);
        CHECK(contains(error.what(), "no space for"));
    }
    CHECK(shmbus::ensure_topic(dir, "small", {.capacity = 64 * 1024, .max_record_size = 1024}));
    // No half-built topic is left behind.
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        CHECK_FALSE(contains(entry.path().filename().string(), ".creating."));
    }
    // Records flow through a topic on the nearly full file system.
    const shmbus::Topic topic = shmbus::Topic::open(dir, "fits");
    shmbus::Publisher publisher(topic);
    shmbus::Subscriber subscriber(topic);
    const std::string record(512, 'x');
    for (int i = 0; i < 500; ++i) {
        REQUIRE(publisher.offer(std::as_bytes(std::span(record)), std::chrono::seconds(5)) ==
                shmbus::Status::kOk);
        (void)subscriber.poll([](const shmbus::Record&) {});
    }
    CHECK(daemon.stop()->status == 0);
}
