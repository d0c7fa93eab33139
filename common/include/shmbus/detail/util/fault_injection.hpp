// Named fault points for crash tests. Compiled in only when SHMBUS_FAULT_INJECTION is defined
// (test builds); in every other build SHMBUS_FAULT_POINT expands to nothing.
//
// A test arms one point through the environment of the process it is about to start:
//
//   SHMBUS_FAULT=<point>:<action>[:<hit>]
//
//   point   after_claim | after_header | mid_payload | before_commit | mid_advance
//   action  stop   raise SIGSTOP, so the test can kill -9 the process at exactly this step
//           kill   raise SIGKILL
//           abort  call abort()
//   hit     fire on the n-th time the point is reached (1 = first; default 1)
#pragma once

#include <cstdint>

namespace shmbus::fault {

enum class Point : std::uint8_t {
    kAfterClaim,    // the tail CAS succeeded; nothing of the frame is written
    kAfterHeader,   // the header is stamped CLAIMED; no payload yet
    kMidPayload,    // half of the payload is written (Publisher::offer and try_offer)
    kBeforeCommit,  // the payload is complete; the commit word is not yet COMMITTED
    kMidAdvance,    // a subscriber has read records but not yet published its new position
};

#if defined(SHMBUS_FAULT_INJECTION)
/// Fires the armed action if `point` is armed and this is the chosen hit.
void reached(Point point) noexcept;
#define SHMBUS_FAULT_POINT(point) ::shmbus::fault::reached(point)
#else
#define SHMBUS_FAULT_POINT(point) ((void)0)
#endif

}  // namespace shmbus::fault
