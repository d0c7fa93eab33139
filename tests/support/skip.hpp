// Skipping a test case that cannot run here, visibly.
//
//   if (::geteuid() != 0) return shmbus::test::skip("acting as another user needs root");
//
// The case stops there and the reason is printed. A program in which any case skipped and none
// failed exits with kSkipExitStatus, which ctest reports as "Skipped" (every test is registered
// with SKIP_RETURN_CODE 77), so a case that could not run is never counted as a pass. The
// program's output names each skipped case and why.
#pragma once

#include <string_view>

namespace shmbus::test {

inline constexpr int kSkipExitStatus = 77;

/// Marks the current test case skipped for `reason`. Return right after calling it.
void skip(std::string_view reason);

/// Whether this build compiled the crash-test fault points in (-DSHMBUS_FAULT_INJECTION=ON).
[[nodiscard]] constexpr bool fault_points_compiled() noexcept {
#if defined(SHMBUS_FAULT_INJECTION)
    return true;
#else
    return false;
#endif
}

/// The reason every case that arms a fault point gives when the build has none.
inline constexpr std::string_view kNeedsFaultPoints =
    "needs a build with -DSHMBUS_FAULT_INJECTION=ON for the fault points";

}  // namespace shmbus::test
