#include "json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace shmbus {
namespace {

/// The length of the valid UTF-8 sequence at the start of `text`, or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text) {
    const auto lead = static_cast<unsigned char>(text[0]);
    std::size_t length = 0;
    std::uint32_t minimum = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
        minimum = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        minimum = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (text.size() < length) return 0;
    std::uint32_t code = lead & (0x7fu >> length);
    for (std::size_t i = 1; i < length; ++i) {
        const auto next = static_cast<unsigned char>(text[i]);
        if ((next & 0xc0) != 0x80) return 0;
        code = code << 6 | (next & 0x3fu);
    }
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
    return length;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    while (!text.empty()) {
        const auto byte = static_cast<unsigned char>(text[0]);
        std::size_t used = 1;
        switch (byte) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (byte >= 0x20 && byte < 0x7f) {
                    out += static_cast<char>(byte);
                } else if (const std::size_t length = byte >= 0x80 ? utf8_sequence_length(text) : 0;
                           length > 0) {
                    out.append(text.substr(0, length));
                    used = length;
                } else {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
                    out += escaped;
                }
        }
        text.remove_prefix(used);
    }
    out += '"';
}

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (first_in_level_.empty()) return;
    if (!first_in_level_.back()) text_ += layout_ == JsonLayout::kSpaced ? ", " : ",";
    first_in_level_.back() = false;
}

void JsonWriter::open(char bracket) {
    separate();
    text_ += bracket;
    first_in_level_.push_back(true);
}

void JsonWriter::close(char bracket) {
    text_ += bracket;
    first_in_level_.pop_back();
}

void JsonWriter::key(std::string_view name) {
    separate();
    append_json_string(text_, name);
    text_ += layout_ == JsonLayout::kSpaced ? ": " : ":";
    after_key_ = true;
}

void JsonWriter::value(std::string_view text) {
    separate();
    append_json_string(text_, text);
}

void JsonWriter::unsigned_number(std::uint64_t n) {
    separate();
    text_ += std::to_string(n);
}

void JsonWriter::signed_number(std::int64_t n) {
    separate();
    text_ += std::to_string(n);
}

void JsonWriter::value(double x) {
    separate();
    if (!std::isfinite(x)) {
        text_ += "null";
        return;
    }
    char number[32];
    std::snprintf(number, sizeof number, "%.6g", x);
    text_ += number;
}

void JsonWriter::value(bool flag) {
    separate();
    text_ += flag ? "true" : "false";
}

void JsonWriter::null_value() {
    separate();
    text_ += "null";
}

}  // namespace shmbus
