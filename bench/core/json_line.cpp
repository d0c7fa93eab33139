#include "core/json_line.hpp"

#include <cmath>
#include <cstdio>

namespace shmbus::bench {
namespace {

void append_quoted(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

}  // namespace

void JsonLine::name(std::string_view key) {
    if (!body_.empty()) body_ += ", ";
    append_quoted(body_, key);
    body_ += ": ";
}

JsonLine& JsonLine::add(std::string_view key, std::string_view value) {
    name(key);
    append_quoted(body_, value);
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, double value) {
    name(key);
    if (!std::isfinite(value)) {
        body_ += "null";
        return *this;
    }
    char text[64];
    std::snprintf(text, sizeof(text), "%.6g", value);
    body_ += text;
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, std::uint64_t value) {
    name(key);
    body_ += std::to_string(value);
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, std::int64_t value) {
    name(key);
    body_ += std::to_string(value);
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, bool value) {
    name(key);
    body_ += value ? "true" : "false";
    return *this;
}

}  // namespace shmbus::bench
