#include "shmbus/detail/util/topic_name.hpp"

#include "shmbus/error.hpp"

namespace shmbus {
namespace {

bool allowed(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

std::string printable(std::string_view name) {
    std::string out;
    for (const char c : name) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        }
    }
    return out;
}

}  // namespace

std::optional<std::string> topic_name_problem(std::string_view name) {
    if (name.empty()) return std::string("topic name is empty");
    if (name.size() > kMaxTopicName) {
        return "topic name '" + printable(name.substr(0, 20)) + "...' is " +
               std::to_string(name.size()) + " characters; the limit is " +
               std::to_string(kMaxTopicName);
    }
    if (name.find('/') != std::string_view::npos) {
        return "topic name '" + printable(name) + "' contains '/'";
    }
    if (name == "." || name == ".." || name.find("..") != std::string_view::npos) {
        return "topic name '" + printable(name) + "' contains '..'";
    }
    if (name.front() == '.') return "topic name '" + printable(name) + "' starts with '.'";
    if (name.front() == '-') return "topic name '" + printable(name) + "' starts with '-'";
    for (const char c : name) {
        if (!allowed(c)) {
            return "topic name '" + printable(name) +
                   "' contains a character outside [A-Za-z0-9._-]";
        }
    }
    return std::nullopt;
}

void require_valid_topic_name(std::string_view name) {
    if (auto problem = topic_name_problem(name)) {
        throw Error(ErrorCode::kInvalidArgument, *problem);
    }
}

}  // namespace shmbus
