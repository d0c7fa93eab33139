// What the fuzz target and the regression replay do with one topic image: write it as a topic's
// files, open it through the public API, and read it every way a subscriber and `shmbus stat`
// do, checking what comes back against the promises of the API.
//
//   1. Topic::open (the validator: both headers, the parameters, the file lengths)
//   2. collect_stats (the publisher and subscriber slot tables, the lock probes)
//   3. a Subscriber starting where the image says, in place or copying (block topics), with a
//      few polls of a bounded number of records, and wait(0) after each if the image asks
//   4. if the image asks: a Publisher offers one record (flow control reads the subscriber
//      slots, the claim intents and the commit floor), the commit floor is walked and the frame
//      there repaired as a held-back publisher or the daemon would, then the subscriber polls
//      again
//   5. collect_stats again, with the subscriber attached
//
// Every call returns on its own: polls are bounded, waits have a zero timeout. So a loop that
// does not end shows up as a fuzzer timeout, and a broken promise (a payload outside the ring,
// a position that goes backwards, more records than the limit) aborts with a message.
#pragma once

#include <cstdint>
#include <span>

namespace shmbus::fuzz {

/// Topics whose declared capacity is larger than this are opened and their slot tables read,
/// but no subscriber reads their ring: scanning a ring for a frame boundary costs time in
/// proportion to its capacity, by design, and the code paths are the same at any size.
inline constexpr std::uint64_t kLargestReadCapacity = std::uint64_t{1} << 16;

/// Runs the steps above on `bytes` (a topic image, see topic_image.hpp). Files go in a
/// directory of this process's own under /dev/shm (or $TMPDIR where there is no /dev/shm),
/// removed at exit. Aborts on a broken promise; returns normally on anything else, including
/// every shmbus::Error that bad input deserves.
void exercise_topic_image(std::span<const std::uint8_t> bytes);

}  // namespace shmbus::fuzz
