// One result as one line of JSON: a flat object of names and numbers or strings, in the order
// they were added. The sweep appends these lines to bench/results/<run>/results.jsonl.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shmbus::bench {

class JsonLine {
  public:
    JsonLine& add(std::string_view name, std::string_view value);
    JsonLine& add(std::string_view name, const char* value) {
        return add(name, std::string_view(value));
    }
    JsonLine& add(std::string_view name, double value);
    JsonLine& add(std::string_view name, std::uint64_t value);
    JsonLine& add(std::string_view name, std::int64_t value);
    JsonLine& add(std::string_view name, int value) {
        return add(name, static_cast<std::int64_t>(value));
    }
    JsonLine& add(std::string_view name, bool value);

    /// The object, without a trailing newline.
    [[nodiscard]] std::string text() const { return "{" + body_ + "}"; }

  private:
    void name(std::string_view key);
    std::string body_;
};

}  // namespace shmbus::bench
