// Who may ask the daemon for a topic: the peer's credentials, as the kernel reports them for
// the control socket (SO_PEERCRED), against the configuration's [control] rules.
//
//   root                         always
//   the daemon's own user        always (so `shmbusd --dir ./run` works for whoever runs it)
//   control.allow_users          by uid
//   control.allow_groups         by the peer's primary group at connect time, or membership
//                                in the group database (supplementary groups)
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "config.hpp"

namespace shmbusd {

/// A connected client, as SO_PEERCRED describes it.
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

/// Why `peer` may not create topics under `rules`, or nullopt if it may. `daemon_uid` is the
/// daemon's effective uid.
[[nodiscard]] std::optional<std::string> creation_refusal(const CreationRules& rules,
                                                          const Peer& peer, uid_t daemon_uid);

}  // namespace shmbusd
