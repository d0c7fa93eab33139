#include "creation_rules.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "config_values.hpp"

namespace shmbusd {
namespace {

/// The groups the user database gives `uid`, with `primary` first.
std::vector<gid_t> groups_of(uid_t uid, gid_t primary) {
    std::vector<gid_t> groups{primary};
    const long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(suggested > 0 ? static_cast<std::size_t>(suggested) : 16384);
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
        return groups;  // a user the database does not know has no supplementary groups
    }
    int count = 64;
    std::vector<gid_t> listed(static_cast<std::size_t>(count));
    while (::getgrouplist(found->pw_name, primary, listed.data(), &count) < 0) {
        if (count <= static_cast<int>(listed.size()) || count > 65536) return groups;
        listed.resize(static_cast<std::size_t>(count));
    }
    listed.resize(static_cast<std::size_t>(count));
    groups.insert(groups.end(), listed.begin(), listed.end());
    return groups;
}

}  // namespace

std::optional<std::string> creation_refusal(const CreationRules& rules, const Peer& peer,
                                            uid_t daemon_uid) {
    if (peer.uid == 0 || peer.uid == daemon_uid) return std::nullopt;
    if (std::find(rules.users.begin(), rules.users.end(), peer.uid) != rules.users.end()) {
        return std::nullopt;
    }
    if (!rules.groups.empty()) {
        std::vector<gid_t> groups{peer.gid};
        if (peer.groups) {
            groups.insert(groups.end(), peer.groups->begin(), peer.groups->end());
        } else {
            groups = groups_of(peer.uid, peer.gid);
        }
        for (const gid_t gid : groups) {
            if (std::find(rules.groups.begin(), rules.groups.end(), gid) != rules.groups.end()) {
                return std::nullopt;
            }
        }
    }
    return describe_user(peer.uid) + " (pid " + std::to_string(peer.pid) +
           ") may not create topics on this bus: shmbusd's configuration allows root, its own "
           "user, and the users and groups in [control] allow_users and allow_groups";
}

}  // namespace shmbusd
