// libshmbus: a shared-memory message bus for processes on one Linux host.
//
//   #include <shmbus/shmbus.hpp>
//
//   shmbus::Topic topic = shmbus::Topic::open(shmbus::default_bus_directory(), "orders");
//   shmbus::Publisher publisher(topic);
//   shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
//
// See docs/FORMAT.md for the file layout and the protocol, and README.md for the tools.
#pragma once

#include "shmbus/control.hpp"
#include "shmbus/error.hpp"
#include "shmbus/publisher.hpp"
#include "shmbus/status.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"
#include "shmbus/topic_stats.hpp"
#include "shmbus/version.hpp"
#include "shmbus/wait_set.hpp"
