// The fuzz corpus and every input the fuzzer ever failed on, replayed through the same driver
// the fuzz target uses, in the ordinary builds (GCC, plain and ASan+UBSan). A broken promise
// aborts the test; a crash or an ASan report fails it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "topic_image_driver.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kFuzzDir = SHMBUS_FUZZ_DIR;

std::vector<fs::path> inputs_in(const fs::path& dir) {
    std::vector<fs::path> files;
    if (!fs::is_directory(dir)) return files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().filename().string().front() != '.') {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::uint8_t> read_input(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void replay(const std::vector<fs::path>& files) {
    for (const fs::path& file : files) {
        INFO("input " << file.string());
        const std::vector<std::uint8_t> bytes = read_input(file);
        shmbus::fuzz::exercise_topic_image(bytes);
    }
}

}  // namespace

TEST_CASE("every seed of the topic image corpus is read without a broken promise") {
    const auto files = inputs_in(kFuzzDir / "corpus" / "topic_image");
    // The generator writes well over this many; fewer means the corpus went missing.
    REQUIRE(files.size() >= 10);
    replay(files);
}

TEST_CASE("every topic image the fuzzer once failed on is now read without a broken promise") {
    const auto files = inputs_in(kFuzzDir / "regressions" / "topic_image");
    if (files.empty()) {
        MESSAGE("no regression inputs in " << (kFuzzDir / "regressions" / "topic_image").string());
    }
    replay(files);
}
