// Reinitialising a topic: the one way shmbusd ever discards a topic's records, and only when
// asked by name (`shmbusd --reinit TOPIC`).
//
//   1. take the directory's daemon lock          refused while a daemon supervises it
//   2. take the topic's init lock for writing    refused while any client has the topic open
//                                                (every open holds it for reading)
//   3. build a fresh topic from the configuration in a hidden staging directory
//   4. swap it into place (renameat2 RENAME_EXCHANGE): the name never points at nothing
//   5. truncate the old records file, so a client that opened it just before the swap fails
//      its validation instead of attaching to a topic nobody will see again; then delete it
//
// A topic whose files are corrupt or of another format version can be reinitialised too; a
// topic that does not exist is simply created.
#pragma once

#include <string>

#include "config.hpp"

namespace shmbusd {

/// Reinitialises topic `name` in `config.directory` with its configured settings. Returns a
/// line describing what was done. Throws shmbus::Error naming why it refused.
[[nodiscard]] std::string reinit_topic(const Config& config, const std::string& name);

}  // namespace shmbusd
