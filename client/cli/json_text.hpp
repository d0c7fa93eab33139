// A minimal JSON writer for the tool's machine-readable output: objects, arrays, strings,
// unsigned integers and booleans, written compactly on one line.
//
//   JsonWriter json;
//   json.begin_object();
//   json.field("topic", "orders");
//   json.field("capacity", std::uint64_t{1048576});
//   json.end_object();
//   json.text();  // {"topic":"orders","capacity":1048576}
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::cli {

class JsonWriter {
  public:
    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    /// The key of the next member of the current object.
    void key(std::string_view name);

    void value(std::string_view text);
    void value(const char* text) { value(std::string_view(text)); }
    void value(bool flag);
    void null_value();
    void value(std::unsigned_integral auto n) { number(static_cast<std::uint64_t>(n)); }

    template <typename T>
    void field(std::string_view name, const T& v) {
        key(name);
        value(v);
    }

    [[nodiscard]] const std::string& text() const noexcept { return text_; }

  private:
    void separate();
    void number(std::uint64_t n);

    std::string text_;
    std::vector<bool> first_in_level_;  // one entry per open object or array
    bool after_key_ = false;
};

/// Appends `text` to `out` as a JSON string literal, quotes included. Bytes that are not valid
/// UTF-8 are written as \u00XX escapes.
void append_json_string(std::string& out, std::string_view text);

}  // namespace shmbus::cli
