#include "json_value.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>

namespace shmbus::test::cli {

class JsonParser {
  public:
    explicit JsonParser(std::string_view text) : text_(text) {}

    JsonValue parse_document() {
        JsonValue value = parse_value(0);
        skip_space();
        if (at_ != text_.size()) fail("text after the value");
        return value;
    }

  private:
    static constexpr int kMaxDepth = 64;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(at_));
    }

    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' ||
                                      text_[at_] == '\n' || text_[at_] == '\r')) {
            ++at_;
        }
    }

    char peek() {
        skip_space();
        if (at_ >= text_.size()) fail("unexpected end");
        return text_[at_];
    }

    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++at_;
    }

    void literal(std::string_view word) {
        if (text_.substr(at_, word.size()) != word) fail("bad literal");
        at_ += word.size();
    }

    JsonValue parse_value(int depth) {
        if (depth > kMaxDepth) fail("nesting too deep");
        JsonValue value;
        const char c = peek();
        if (c == '{') {
            value.kind_ = JsonValue::Kind::kObject;
            ++at_;
            if (peek() == '}') {
                ++at_;
                return value;
            }
            for (;;) {
                if (peek() != '"') fail("expected a member name");
                std::string key = parse_string();
                expect(':');
                value.members_.emplace_back(std::move(key), parse_value(depth + 1));
                if (peek() == ',') {
                    ++at_;
                    continue;
                }
                expect('}');
                return value;
            }
        }
        if (c == '[') {
            value.kind_ = JsonValue::Kind::kArray;
            ++at_;
            if (peek() == ']') {
                ++at_;
                return value;
            }
            for (;;) {
                value.items_.push_back(parse_value(depth + 1));
                if (peek() == ',') {
                    ++at_;
                    continue;
                }
                expect(']');
                return value;
            }
        }
        if (c == '"') {
            value.kind_ = JsonValue::Kind::kString;
            value.text_ = parse_string();
            return value;
        }
        if (c == 't' || c == 'f') {
            value.kind_ = JsonValue::Kind::kBool;
            value.boolean_ = c == 't';
            literal(c == 't' ? "true" : "false");
            return value;
        }
        if (c == 'n') {
            literal("null");
            return value;
        }
        value.kind_ = JsonValue::Kind::kNumber;
        value.text_ = parse_number();
        return value;
    }

    std::string parse_number() {
        const std::size_t start = at_;
        if (at_ < text_.size() && text_[at_] == '-') ++at_;
        const std::size_t digits = at_;
        while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])))
            ++at_;
        if (at_ == digits) fail("expected a value");
        if (text_[digits] == '0' && at_ - digits > 1) fail("leading zero");
        if (at_ < text_.size() && text_[at_] == '.') {
            ++at_;
            const std::size_t fraction = at_;
            while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])))
                ++at_;
            if (at_ == fraction) fail("bad fraction");
        }
        if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
            ++at_;
            if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
            const std::size_t exponent = at_;
            while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])))
                ++at_;
            if (at_ == exponent) fail("bad exponent");
        }
        return std::string(text_.substr(start, at_ - start));
    }

    unsigned parse_hex4() {
        if (at_ + 4 > text_.size()) fail("short \\u escape");
        unsigned value = 0;
        const auto [end, error] =
            std::from_chars(text_.data() + at_, text_.data() + at_ + 4, value, 16);
        if (error != std::errc{} || end != text_.data() + at_ + 4) fail("bad \\u escape");
        at_ += 4;
        return value;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xc0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3f));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xe0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (code & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (code & 0x3f));
        }
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        for (;;) {
            if (at_ >= text_.size()) fail("unterminated string");
            const char c = text_[at_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= text_.size()) fail("unterminated escape");
            const char e = text_[at_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    unsigned code = parse_hex4();
                    if (code >= 0xd800 && code <= 0xdbff) {
                        if (text_.substr(at_, 2) != "\\u") fail("lone high surrogate");
                        at_ += 2;
                        const unsigned low = parse_hex4();
                        if (low < 0xdc00 || low > 0xdfff) fail("bad low surrogate");
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    } else if (code >= 0xdc00 && code <= 0xdfff) {
                        fail("lone low surrogate");
                    }
                    append_utf8(out, code);
                    break;
                }
                default:
                    fail("unknown escape");
            }
        }
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

const JsonValue& JsonValue::operator[](std::string_view key) const {
    if (kind_ != Kind::kObject) throw std::runtime_error("JSON: not an object");
    for (const auto& [name, value] : members_) {
        if (name == key) return value;
    }
    throw std::runtime_error("JSON: no member '" + std::string(key) + "'");
}

bool JsonValue::has(std::string_view key) const {
    if (kind_ != Kind::kObject) return false;
    for (const auto& member : members_) {
        if (member.first == key) return true;
    }
    return false;
}

const std::vector<JsonValue>& JsonValue::items() const {
    if (kind_ != Kind::kArray) throw std::runtime_error("JSON: not an array");
    return items_;
}

const std::string& JsonValue::string() const {
    if (kind_ != Kind::kString) throw std::runtime_error("JSON: not a string");
    return text_;
}

std::uint64_t JsonValue::uint() const {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text_.data(), text_.data() + text_.size(), value);
    if (kind_ != Kind::kNumber || error != std::errc{} || end != text_.data() + text_.size()) {
        throw std::runtime_error("JSON: '" + text_ + "' is not a non-negative integer");
    }
    return value;
}

bool JsonValue::boolean() const {
    if (kind_ != Kind::kBool) throw std::runtime_error("JSON: not a boolean");
    return boolean_;
}

JsonValue parse_json(std::string_view text) {
    return JsonParser(text).parse_document();
}

std::string decode_base64(std::string_view text) {
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (text.size() % 4 != 0) throw std::runtime_error("base64: length not a multiple of 4");
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::uint32_t group = 0;
        int padding = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = text[i + j];
            std::uint32_t sextet = 0;
            if (c == '=') {
                if (i + 4 != text.size() || j < 2) throw std::runtime_error("base64: bad padding");
                ++padding;
            } else {
                if (padding > 0) throw std::runtime_error("base64: data after padding");
                const std::size_t index = kAlphabet.find(c);
                if (index == std::string_view::npos) throw std::runtime_error("base64: bad char");
                sextet = static_cast<std::uint32_t>(index);
            }
            group = group << 6 | sextet;
        }
        out += static_cast<char>(group >> 16);
        if (padding < 2) out += static_cast<char>((group >> 8) & 0xff);
        if (padding < 1) out += static_cast<char>(group & 0xff);
    }
    return out;
}

}  // namespace shmbus::test::cli
