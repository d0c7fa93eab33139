// A small tmpfs mounted for one test (root only), unmounted lazily at the end so a straggling
// child cannot keep it busy.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace shmbus::test {

class SmallTmpfs {
  public:
    /// Mounts a tmpfs with `options` (e.g. "size=1m", "nr_inodes=8") on `path`, creating it.
    SmallTmpfs(std::filesystem::path path, const std::string& options) : path_(std::move(path)) {
        std::filesystem::create_directory(path_);
        const std::string all = options + ",mode=0755";
        mounted_ =
            ::mount("shmbus-test", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, all.c_str()) == 0;
        if (!mounted_) error_ = std::strerror(errno);
    }
    ~SmallTmpfs() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    SmallTmpfs(const SmallTmpfs&) = delete;
    SmallTmpfs& operator=(const SmallTmpfs&) = delete;

    [[nodiscard]] bool mounted() const noexcept { return mounted_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
    bool mounted_ = false;
    std::string error_;
};

}  // namespace shmbus::test
