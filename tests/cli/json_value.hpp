// A strict JSON parser for checking the tool's JSON output in tests. Numbers keep their text,
// so 64-bit counters compare exactly. Throws std::runtime_error naming the offset of a problem.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shmbus::test::cli {

class JsonValue {
  public:
    enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    [[nodiscard]] bool is(Kind kind) const noexcept { return kind_ == kind; }

    /// The member `key` of an object; throws if this is not an object or has no such member.
    [[nodiscard]] const JsonValue& operator[](std::string_view key) const;
    [[nodiscard]] bool has(std::string_view key) const;
    /// The elements of an array.
    [[nodiscard]] const std::vector<JsonValue>& items() const;
    /// A string's decoded bytes.
    [[nodiscard]] const std::string& string() const;
    /// A non-negative integer number.
    [[nodiscard]] std::uint64_t uint() const;
    [[nodiscard]] bool boolean() const;

  private:
    friend class JsonParser;
    Kind kind_ = Kind::kNull;
    bool boolean_ = false;
    std::string text_;  // a string's bytes or a number's literal
    std::vector<JsonValue> items_;
    std::vector<std::pair<std::string, JsonValue>> members_;
};

/// Parses exactly one JSON value (surrounding whitespace allowed).
[[nodiscard]] JsonValue parse_json(std::string_view text);

/// Decodes RFC 4648 base64 (standard alphabet, padded); throws on anything else.
[[nodiscard]] std::string decode_base64(std::string_view text);

}  // namespace shmbus::test::cli
