// The messages of the control plane: what a client sends shmbusd over <bus dir>/.shmbusd.sock,
// and what it answers. Records never pass through here; only requests to create topics do.
//
// The socket is AF_UNIX SOCK_SEQPACKET: one request and one reply per connection, each a single
// packet of at most kMaxMessageBytes, so neither side ever needs to find where a message ends.
// A message is UTF-8 text, one "key=value" per line after a first line naming the protocol:
//
//   request                          reply (success)         reply (refusal)
//   ----------------------------     ---------------------   -----------------------------------
//   shmbus-control 1                 shmbus-control 1        shmbus-control 1
//   op=create                        status=ok               status=error
//   name=orders                      created=1               code=permission
//   capacity=1048576                                         message=uid 1001 (alice) may not ...
//   policy=block
//
// A request names only the parameters its sender chose; the daemon fills in the rest from its
// configuration. The request keys are capacity, max_record_size, max_publishers, max_subscribers
// (decimal), policy (block | overwrite), timestamps and fenced_commits (0 | 1). The reply codes are the names of
// shmbus::ErrorCode (invalid_argument, not_found, exists, permission, ...).
//
// Both sides are strict: an unknown or repeated key, a value that is not a plain decimal number
// in range, a missing line or an oversized message is refused with a message that says which.
// The daemon reads requests from any local user, so this parser is where hostile input lands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/error.hpp"

namespace shmbus::control {

inline constexpr std::string_view kProtocolLine = "shmbus-control 1";
inline constexpr std::size_t kMaxMessageBytes = 4096;
/// The control socket's name inside the bus directory.
inline constexpr std::string_view kSocketName = ".shmbusd.sock";

/// The layout a client asks for. Unset fields take the daemon's configured defaults.
struct TopicRequest {
    std::optional<std::uint64_t> capacity = std::nullopt;
    std::optional<std::uint32_t> max_record_size = std::nullopt;
    std::optional<std::uint32_t> max_publishers = std::nullopt;
    std::optional<std::uint32_t> max_subscribers = std::nullopt;
    std::optional<format::Policy> policy = std::nullopt;
    std::optional<bool> timestamps = std::nullopt;
    std::optional<bool> fenced_commits = std::nullopt;

    friend bool operator==(const TopicRequest&, const TopicRequest&) = default;
};

struct CreateRequest {
    std::string name;
    TopicRequest topic;

    friend bool operator==(const CreateRequest&, const CreateRequest&) = default;
};

struct Reply {
    bool ok = false;
    bool created = false;  // ok: this request created the topic; false: it already existed
    ErrorCode code = ErrorCode::kSystem;  // !ok
    std::string message;                  // !ok: one line, for a person

    friend bool operator==(const Reply&, const Reply&) = default;
};

[[nodiscard]] std::string encode_request(const CreateRequest& request);

/// Parses a request. Throws shmbus::Error (kInvalidArgument) naming what is wrong with it. The
/// topic name is returned as sent; checking it is the caller's business.
[[nodiscard]] CreateRequest decode_request(std::string_view message);

[[nodiscard]] std::string encode_reply(const Reply& reply);

/// Parses a reply. Throws shmbus::Error (kSystem) if it is not one.
[[nodiscard]] Reply decode_reply(std::string_view message);

/// The wire name of `code` ("no_space"), and back.
[[nodiscard]] std::string_view code_name(ErrorCode code) noexcept;
[[nodiscard]] std::optional<ErrorCode> code_from_name(std::string_view name) noexcept;

}  // namespace shmbus::control
