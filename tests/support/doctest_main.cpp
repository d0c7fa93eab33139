// The main() of every doctest program: doctest's, and then exit status 77 when a case skipped
// and none failed (support/skip.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "support/skip.hpp"

namespace shmbus::test {
namespace {

struct Skipped {
    std::string test_case;
    std::string reason;
};

std::vector<Skipped>& skipped_cases() {
    static std::vector<Skipped> cases;
    return cases;
}

}  // namespace

void skip(std::string_view reason) {
    const doctest::TestCaseData* current = doctest::getContextOptions()->currentTest;
    std::string name = current != nullptr ? std::string(current->m_name) : std::string("?");
    MESSAGE("skipped: " << std::string(reason));
    skipped_cases().push_back({std::move(name), std::string(reason)});
}

}  // namespace shmbus::test

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int status = context.run();
    if (context.shouldExit() || status != 0) return status;
    const auto& skipped = shmbus::test::skipped_cases();
    if (skipped.empty()) return 0;
    std::printf("\n%zu test case(s) skipped, so this program reports itself skipped (exit %d):\n",
                skipped.size(), shmbus::test::kSkipExitStatus);
    for (const auto& entry : skipped) {
        std::printf("  SKIPPED  %s\n           %s\n", entry.test_case.c_str(),
                    entry.reason.c_str());
    }
    return shmbus::test::kSkipExitStatus;
}
