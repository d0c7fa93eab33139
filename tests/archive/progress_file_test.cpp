// DIR/.progress: what the recorder writes reads back, and a file that is not a whole progress
// file of this version, or was torn or tampered with, reads as absent.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <shmbus/archive/progress_file.hpp>
#include <string>
#include <vector>

#include "support/bus_directory.hpp"

namespace {

namespace ar = shmbus::archive;
using shmbus::test::BusDirectory;

std::vector<char> bytes_of(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const std::vector<char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

ar::Progress sample() {
    ar::Progress progress;
    for (std::uint8_t i = 0; i < 16; ++i)
        progress.topic_id[i] = static_cast<std::uint8_t>(i * 7 + 1);
    progress.next_sequence = 123456789;
    progress.flushed_at_ns = 1'700'000'000'000'000'000;
    progress.last_error = 28;
    progress.pid = 4242;
    return progress;
}

}  // namespace

TEST_CASE("what the recorder writes reads back, rewritten in place") {
    BusDirectory dir;
    CHECK_FALSE(ar::read_progress(dir.path()).has_value());  // none yet
    ar::ProgressFile file(dir.path());
    file.write(sample());
    auto read = ar::read_progress(dir.path());
    REQUIRE(read.has_value());
    const ar::Progress written = sample();
    CHECK(std::equal(std::begin(read->topic_id), std::end(read->topic_id),
                     std::begin(written.topic_id)));
    CHECK(read->next_sequence == 123456789u);
    CHECK(read->flushed_at_ns == 1'700'000'000'000'000'000u);
    CHECK(read->last_error == 28);
    CHECK(read->pid == 4242u);
    CHECK(std::filesystem::file_size(dir.path() / ".progress") == ar::kProgressFileSize);

    ar::Progress empty = sample();
    empty.next_sequence.reset();
    file.write(empty);
    read = ar::read_progress(dir.path());
    REQUIRE(read.has_value());
    CHECK_FALSE(read->next_sequence.has_value());
    CHECK(std::filesystem::file_size(dir.path() / ".progress") == ar::kProgressFileSize);
}

TEST_CASE("a short, long, torn, foreign or tampered progress file reads as absent") {
    BusDirectory dir;
    const auto path = dir.path() / ".progress";
    ar::ProgressFile(dir.path()).write(sample());
    const std::vector<char> good = bytes_of(path);
    REQUIRE(good.size() == ar::kProgressFileSize);

    std::vector<char> changed(good.begin(), good.end() - 1);
    write_bytes(path, changed);
    CHECK_FALSE(ar::read_progress(dir.path()).has_value());  // short

    changed = good;
    changed.push_back(0);
    write_bytes(path, changed);
    CHECK_FALSE(ar::read_progress(dir.path()).has_value());  // long

    for (const std::size_t offset : {0u, 8u, 12u, 20u, 33u, 45u, 50u, 60u}) {
        CAPTURE(offset);
        changed = good;
        changed[offset] = static_cast<char>(changed[offset] ^ 0x10);
        write_bytes(path, changed);
        CHECK_FALSE(ar::read_progress(dir.path()).has_value());
    }

    write_bytes(path, good);
    CHECK(ar::read_progress(dir.path()).has_value());

    // Not a regular file: a FIFO is never waited on, a directory never read.
    std::filesystem::remove(path);
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    CHECK_FALSE(ar::read_progress(dir.path()).has_value());
    std::filesystem::remove(path);
    std::filesystem::create_directory(path);
    CHECK_FALSE(ar::read_progress(dir.path()).has_value());
    // A symbolic link is not followed.
    std::filesystem::remove(path);
    const auto elsewhere = dir.path() / "elsewhere";
    write_bytes(elsewhere, good);
    std::filesystem::create_symlink(elsewhere, path);
    CHECK_FALSE(ar::read_progress(dir.path()).has_value());
}
