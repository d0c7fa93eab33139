// JSON text on one line: objects, arrays, strings, integers, doubles, booleans and null. The one
// JSON writer of shmbus's tools: `shmbus stat --json` and `shmbus bench --json` write with it,
// and so does the benchmark harness in bench/, whose result lines bench/tools/*.py read.
//
//   JsonWriter json;                          // JsonWriter json(JsonLayout::kSpaced);
//   json.begin_object();
//   json.field("topic", "orders").field("capacity", std::uint64_t{1048576});
//   json.end_object();
//   json.text();  // {"topic":"orders","capacity":1048576}
//                 // {"topic": "orders", "capacity": 1048576}
//
// A library of its own (shmbus_json), apart from the rest of the CLI, so that the harness links
// it and nothing else of the CLI; it is no part of libshmbus.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus {

enum class JsonLayout : std::uint8_t {
    kCompact,  // {"a":1,"b":[2,3]}
    kSpaced,   // {"a": 1, "b": [2, 3]}
};

class JsonWriter {
  public:
    explicit JsonWriter(JsonLayout layout = JsonLayout::kCompact) noexcept : layout_(layout) {}

    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }
    /// The key of the next member of the current object.
    void key(std::string_view name);

    void value(std::string_view text);
    void value(const char* text) { value(std::string_view(text)); }
    void value(bool flag);
    void null_value();
    void value(std::unsigned_integral auto n) { unsigned_number(static_cast<std::uint64_t>(n)); }
    void value(std::signed_integral auto n) { signed_number(static_cast<std::int64_t>(n)); }
    /// Six significant digits, as printf's %.6g writes them; null for an infinity or a NaN,
    /// which JSON has no number for.
    void value(double x);

    /// A member of the current object: key(name), then value(v).
    template <typename T>
    JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        value(v);
        return *this;
    }

    [[nodiscard]] const std::string& text() const noexcept { return text_; }

  private:
    void open(char bracket);
    void close(char bracket);
    void separate();
    void unsigned_number(std::uint64_t n);
    void signed_number(std::int64_t n);

    JsonLayout layout_;
    std::string text_;
    std::vector<bool> first_in_level_;  // one entry per open object or array
    bool after_key_ = false;
};

/// Appends `text` to `out` as a JSON string literal, quotes included. Bytes that are not valid
/// UTF-8 are written as \u00XX escapes.
void append_json_string(std::string& out, std::string_view text);

}  // namespace shmbus
