#include <array>
#include <charconv>
#include <limits>
#include <map>
#include <utility>

#include "shmbus/detail/control/message.hpp"

namespace shmbus::control {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 10> kCodeNames{{
    {ErrorCode::kInvalidArgument, "invalid_argument"},
    {ErrorCode::kNotFound, "not_found"},
    {ErrorCode::kExists, "exists"},
    {ErrorCode::kPermission, "permission"},
    {ErrorCode::kFormat, "format"},
    {ErrorCode::kIncompatible, "version"},
    {ErrorCode::kNoSpace, "no_space"},
    {ErrorCode::kNoSlot, "no_slot"},
    {ErrorCode::kBusy, "busy"},
    {ErrorCode::kSystem, "system"},
}};

/// A message split into its fields, every check on the framing already made.
using Fields = std::map<std::string, std::string, std::less<>>;

/// Shows at most 40 characters of untrusted text, with anything unprintable escaped.
std::string quoted(std::string_view text) {
    std::string out = "'";
    for (std::size_t i = 0; i < text.size() && i < 40; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f && byte != '\'') {
            out += static_cast<char>(byte);
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        }
    }
    if (text.size() > 40) out += "...";
    return out + "'";
}

Fields split(std::string_view message, ErrorCode code, std::string_view what) {
    const auto fail = [&](const std::string& why) -> Error {
        return Error(code, "malformed control " + std::string(what) + ": " + why);
    };
    if (message.size() > kMaxMessageBytes) {
        throw fail(std::to_string(message.size()) + " bytes, more than the limit of " +
                   std::to_string(kMaxMessageBytes));
    }
    if (message.find('\0') != std::string_view::npos) throw fail("it contains a NUL byte");
    std::size_t line_end = message.find('\n');
    const std::string_view first = message.substr(0, line_end);
    if (first != kProtocolLine) {
        throw fail("it starts with " + quoted(first) + ", not '" + std::string(kProtocolLine) +
                   "' (is the peer a different version of shmbus?)");
    }
    Fields fields;
    while (line_end != std::string_view::npos && line_end + 1 < message.size()) {
        const std::size_t start = line_end + 1;
        line_end = message.find('\n', start);
        const std::string_view line = message.substr(
            start, line_end == std::string_view::npos ? std::string_view::npos : line_end - start);
        const std::size_t equals = line.find('=');
        if (equals == std::string_view::npos || equals == 0) {
            throw fail("line " + quoted(line) + " is not key=value");
        }
        const std::string_view key = line.substr(0, equals);
        if (!fields.emplace(std::string(key), std::string(line.substr(equals + 1))).second) {
            throw fail("key " + quoted(key) + " appears twice");
        }
    }
    return fields;
}

/// Takes `key` out of `fields`, or nullopt if absent.
std::optional<std::string> take(Fields& fields, std::string_view key) {
    const auto it = fields.find(key);
    if (it == fields.end()) return std::nullopt;
    std::string value = std::move(it->second);
    fields.erase(it);
    return value;
}

template <typename Integer>
Integer parse_number(std::string_view key, const std::string& text) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc{} || stop != end ||
        value > std::numeric_limits<Integer>::max()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "malformed control request: " + std::string(key) + "=" + quoted(text) +
                        " is not a decimal number up to " +
                        std::to_string(std::numeric_limits<Integer>::max()));
    }
    return static_cast<Integer>(value);
}

/// A 0 | 1 value.
bool parse_switch(std::string_view key, const std::string& text) {
    if (text != "0" && text != "1") {
        throw Error(ErrorCode::kInvalidArgument,
                    "control request: " + std::string(key) + "=" + quoted(text) + " is not 0 or 1");
    }
    return text == "1";
}

void refuse_leftovers(const Fields& fields, ErrorCode code, std::string_view what) {
    if (!fields.empty()) {
        throw Error(code, "malformed control " + std::string(what) + ": unknown key " +
                              quoted(fields.begin()->first));
    }
}

std::string one_line(std::string_view text) {
    std::string out(text.substr(0, kMaxMessageBytes / 2));
    for (char& c : out) {
        if (c == '\n' || c == '\r' || c == '\0') c = ' ';
    }
    return out;
}

}  // namespace

std::string_view code_name(ErrorCode code) noexcept {
    for (const auto& [value, name] : kCodeNames) {
        if (value == code) return name;
    }
    return "system";
}

std::optional<ErrorCode> code_from_name(std::string_view name) noexcept {
    for (const auto& [value, text] : kCodeNames) {
        if (text == name) return value;
    }
    return std::nullopt;
}

std::string encode_request(const CreateRequest& request) {
    std::string out(kProtocolLine);
    out += "\nop=create\nname=" + one_line(request.name);
    const TopicRequest& topic = request.topic;
    if (topic.capacity) out += "\ncapacity=" + std::to_string(*topic.capacity);
    if (topic.max_record_size) out += "\nmax_record_size=" + std::to_string(*topic.max_record_size);
    if (topic.max_publishers) out += "\nmax_publishers=" + std::to_string(*topic.max_publishers);
    if (topic.max_subscribers) out += "\nmax_subscribers=" + std::to_string(*topic.max_subscribers);
    if (topic.policy) {
        out +=
            *topic.policy == format::Policy::kOverwrite ? "\npolicy=overwrite" : "\npolicy=block";
    }
    if (topic.timestamps) out += *topic.timestamps ? "\ntimestamps=1" : "\ntimestamps=0";
    if (topic.fenced_commits) {
        out += *topic.fenced_commits ? "\nfenced_commits=1" : "\nfenced_commits=0";
    }
    out += '\n';
    return out;
}

CreateRequest decode_request(std::string_view message) {
    Fields fields = split(message, ErrorCode::kInvalidArgument, "request");
    const auto op = take(fields, "op");
    if (!op) throw Error(ErrorCode::kInvalidArgument, "malformed control request: no op=");
    if (*op != "create") {
        throw Error(ErrorCode::kInvalidArgument,
                    "control request: unknown op " + quoted(*op) + " (this daemon knows 'create')");
    }
    CreateRequest request;
    auto name = take(fields, "name");
    if (!name) throw Error(ErrorCode::kInvalidArgument, "malformed control request: no name=");
    request.name = std::move(*name);
    TopicRequest& topic = request.topic;
    if (auto text = take(fields, "capacity")) {
        topic.capacity = parse_number<std::uint64_t>("capacity", *text);
    }
    if (auto text = take(fields, "max_record_size")) {
        topic.max_record_size = parse_number<std::uint32_t>("max_record_size", *text);
    }
    if (auto text = take(fields, "max_publishers")) {
        topic.max_publishers = parse_number<std::uint32_t>("max_publishers", *text);
    }
    if (auto text = take(fields, "max_subscribers")) {
        topic.max_subscribers = parse_number<std::uint32_t>("max_subscribers", *text);
    }
    if (auto text = take(fields, "policy")) {
        if (*text == "block") {
            topic.policy = format::Policy::kBlock;
        } else if (*text == "overwrite") {
            topic.policy = format::Policy::kOverwrite;
        } else {
            throw Error(ErrorCode::kInvalidArgument,
                        "control request: policy=" + quoted(*text) + " is not block or overwrite");
        }
    }
    if (auto text = take(fields, "timestamps"))
        topic.timestamps = parse_switch("timestamps", *text);
    if (auto text = take(fields, "fenced_commits")) {
        topic.fenced_commits = parse_switch("fenced_commits", *text);
    }
    refuse_leftovers(fields, ErrorCode::kInvalidArgument, "request");
    return request;
}

std::string encode_reply(const Reply& reply) {
    std::string out(kProtocolLine);
    if (reply.ok) {
        out += reply.created ? "\nstatus=ok\ncreated=1\n" : "\nstatus=ok\ncreated=0\n";
        return out;
    }
    out += "\nstatus=error\ncode=";
    out += code_name(reply.code);
    out += "\nmessage=" + one_line(reply.message) + "\n";
    return out;
}

Reply decode_reply(std::string_view message) {
    Fields fields = split(message, ErrorCode::kSystem, "reply");
    const auto status = take(fields, "status");
    Reply reply;
    if (status == "ok") {
        const auto created = take(fields, "created");
        if (created != "0" && created != "1") {
            throw Error(ErrorCode::kSystem, "malformed control reply: created= is not 0 or 1");
        }
        reply.ok = true;
        reply.created = *created == "1";
    } else if (status == "error") {
        const auto code = take(fields, "code");
        const auto known = code ? code_from_name(*code) : std::nullopt;
        if (!known) throw Error(ErrorCode::kSystem, "malformed control reply: bad or no code=");
        auto text = take(fields, "message");
        if (!text) throw Error(ErrorCode::kSystem, "malformed control reply: no message=");
        reply.code = *known;
        reply.message = std::move(*text);
    } else {
        throw Error(ErrorCode::kSystem, "malformed control reply: status= is not ok or error");
    }
    refuse_leftovers(fields, ErrorCode::kSystem, "reply");
    return reply;
}

}  // namespace shmbus::control
