// util::UniqueFd: exactly one owner closes a descriptor, exactly once.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <shmbus/detail/util/unique_fd.hpp>
#include <utility>

namespace {

using shmbus::util::UniqueFd;

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

int open_null() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    return fd;
}

}  // namespace

TEST_CASE("a descriptor is closed when its UniqueFd goes out of scope") {
    const int fd = open_null();
    {
        const UniqueFd owner(fd);
        CHECK(owner.valid());
        CHECK(static_cast<bool>(owner));
        CHECK(owner.get() == fd);
        CHECK(is_open(fd));
    }
    CHECK_FALSE(is_open(fd));
}

TEST_CASE("an empty or negative UniqueFd holds nothing and closes nothing") {
    const UniqueFd empty;
    CHECK_FALSE(empty.valid());
    CHECK(empty.get() == -1);
    const UniqueFd failed(-1);
    CHECK_FALSE(failed);
}

TEST_CASE("moving a UniqueFd moves the ownership: only the last owner closes it") {
    const int fd = open_null();
    UniqueFd first(fd);
    UniqueFd second(std::move(first));
    CHECK_FALSE(first.valid());  // a moved-from UniqueFd holds nothing
    CHECK(second.get() == fd);
    UniqueFd third;
    third = std::move(second);
    CHECK(is_open(fd));
    third = UniqueFd();
    CHECK_FALSE(is_open(fd));
}

TEST_CASE("release gives the descriptor up without closing it, and reset closes the one held") {
    const int fd = open_null();
    UniqueFd owner(fd);
    const int released = owner.release();
    CHECK(released == fd);
    CHECK_FALSE(owner.valid());
    CHECK(is_open(fd));

    owner.reset(released);
    owner.reset(released);  // taking the one it holds again keeps it open
    CHECK(is_open(fd));
    const int other = open_null();
    owner.reset(other);
    CHECK_FALSE(is_open(fd));
    CHECK(owner.get() == other);
    owner.reset();
    CHECK_FALSE(is_open(other));
}
