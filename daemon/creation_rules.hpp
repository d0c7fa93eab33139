// Who may ask the daemon for a topic: the peer's credentials, as the kernel reports them for
// the control socket (SO_PEERCRED), against the configuration's [control] rules.
//
//   root                         always
//   the daemon's own user        always (so `shmbusd --dir ./run` works for whoever runs it)
//   control.allow_users          by uid
//   control.allow_groups         by the peer's groups at connect time: its primary group and
//                                its supplementary groups (SO_PEERGROUPS; on kernels before 4.13,
//                                its user's memberships in the group database instead)
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"

namespace shmbusd {

/// A connected client, as the kernel describes it (SO_PEERCRED, SO_PEERGROUPS).
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::optional<std::vector<gid_t>> groups = std::nullopt;  // supplementary, if the kernel said
};

/// Why `peer` may not create topics under `rules`, or nullopt if it may. `daemon_uid` is the
/// daemon's effective uid.
[[nodiscard]] std::optional<std::string> creation_refusal(const CreationRules& rules,
                                                          const Peer& peer, uid_t daemon_uid);

}  // namespace shmbusd
