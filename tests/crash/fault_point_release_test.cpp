// A build without SHMBUS_FAULT_INJECTION (every release build) compiles each fault point to
// nothing: no call, no load, no branch. This file is compiled as such a build would compile
// the library, whatever this build's option says.
#undef SHMBUS_FAULT_INJECTION
#include <doctest/doctest.h>

#include <shmbus/detail/util/fault_injection.hpp>
#include <string_view>

namespace {

#define SHMBUS_TEST_SPELL(...) #__VA_ARGS__
#define SHMBUS_TEST_EXPANSION(...) SHMBUS_TEST_SPELL(__VA_ARGS__)

// A call to the hook is no constant expression: this compiles only if the point is no code.
static_assert((SHMBUS_FAULT_POINT(shmbus::fault::Point::kAfterClaim), true));

}  // namespace

TEST_CASE("without SHMBUS_FAULT_INJECTION a fault point expands to no code at all") {
    constexpr std::string_view expansion =
        SHMBUS_TEST_EXPANSION(SHMBUS_FAULT_POINT(shmbus::fault::Point::kMidPayload));
    CHECK(expansion == "((void)0)");
}
