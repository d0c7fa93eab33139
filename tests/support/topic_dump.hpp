// A one-paragraph picture of a topic's shared state, for the message of a test that timed out:
// the tail, the commit floor, every attached publisher's claim intent and what its frame holds,
// every attached subscriber's position and state, and the wake masks.
#pragma once

#include <shmbus/detail/ring/topic_view.hpp>
#include <string>

namespace shmbus::test {

[[nodiscard]] std::string describe_topic(const ring::TopicView& view);

}  // namespace shmbus::test
