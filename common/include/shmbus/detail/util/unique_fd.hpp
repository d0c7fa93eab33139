// One owned file descriptor, closed when its owner goes away.
//
//   util::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd) throw system_error("opening " + path);
//   ... fd.get() ...                  // closed on every way out of the scope
//
// Move-only: exactly one owner closes it. release() hands the descriptor to a caller that
// manages it from then on. Errors from close() are ignored: Linux frees the descriptor whatever
// close() reports.
#pragma once

#include <unistd.h>

#include <utility>

namespace shmbus::util {

class UniqueFd {
  public:
    UniqueFd() noexcept = default;
    /// Takes ownership of `fd`; a negative value means none.
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd() { reset(); }

    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    /// The descriptor, still owned by this object; -1 if none.
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    /// Gives the descriptor up without closing it: the caller owns it now.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

    /// Closes the descriptor held, if any, and takes ownership of `fd` instead.
    void reset(int fd = -1) noexcept {
        const int old = std::exchange(fd_, fd);
        if (old >= 0 && old != fd) ::close(old);
    }

  private:
    int fd_ = -1;
};

}  // namespace shmbus::util
