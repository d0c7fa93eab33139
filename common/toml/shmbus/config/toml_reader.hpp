// Reading a TOML configuration file (shmbusd's, shmbus-bridge's): parsing it and walking its
// tables, with every error naming the file, the line and column, and the key. Not installed:
// the programs that read configuration files include it; the library does not.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "shmbus/error.hpp"

namespace shmbus::config {

/// Parses `text`; a syntax error is shmbus::Error kInvalidArgument "ORIGIN:LINE:COLUMN: what".
[[nodiscard]] inline toml::table parse_toml(std::string_view text, const std::string& origin) {
    try {
        return toml::parse(text, origin);
    } catch (const toml::parse_error& error) {
        const auto& begin = error.source().begin;
        throw Error(ErrorCode::kInvalidArgument, origin + ":" + std::to_string(begin.line) + ":" +
                                                     std::to_string(begin.column) + ": " +
                                                     std::string(error.description()));
    }
}

/// Walks one parsed document, checking each table's keys and turning values into the reader's
/// own. Each program derives its reader from this one and adds the values it knows.
class TomlReader {
  public:
    explicit TomlReader(std::string origin) : origin_(std::move(origin)) {}

    /// Throws kInvalidArgument "ORIGIN:LINE:COLUMN: what" (the place left out when unknown).
    [[noreturn]] void fail(const toml::source_region& where, const std::string& what) const {
        std::string place = origin_;
        if (where.begin.line != 0) {
            place +=
                ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column);
        }
        throw Error(ErrorCode::kInvalidArgument, place + ": " + what);
    }

    /// Refuses keys of `table` that are not in `known`: a typo must never be silently ignored.
    void only_keys(const toml::table& table, const std::string& name,
                   std::initializer_list<std::string_view> known) const {
        for (auto&& [key, node] : table) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            std::string list;
            for (const auto& k : known)
                list += (list.empty() ? "" : ", ") + std::string(k);
            fail(key.source(), "unknown key '" + std::string(key.str()) + "' in " + name +
                                   " (known keys: " + list + ")");
        }
    }

    /// The table at `key` of `parent`, or null if there is none; anything else there fails.
    const toml::table* table(const toml::table& parent, std::string_view key,
                             const std::string& name) const {
        const toml::node* node = parent.get(key);
        if (node == nullptr) return nullptr;
        if (!node->is_table()) fail(node->source(), name + " must be a table");
        return node->as_table();
    }

    std::string string(const toml::node& node, const std::string& name) const {
        if (!node.is_string()) fail(node.source(), name + " must be a string");
        return node.as_string()->get();
    }

    bool boolean(const toml::node& node, const std::string& name) const {
        if (!node.is_boolean()) fail(node.source(), name + " must be true or false");
        return node.as_boolean()->get();
    }

    std::int64_t integer(const toml::node& node, const std::string& name, std::int64_t low,
                         std::int64_t high) const {
        if (!node.is_integer()) fail(node.source(), name + " must be a whole number");
        const std::int64_t value = node.as_integer()->get();
        if (value < low || value > high) {
            fail(node.source(), name + " is " + std::to_string(value) + "; it must be between " +
                                    std::to_string(low) + " and " + std::to_string(high));
        }
        return value;
    }

    [[nodiscard]] const std::string& origin() const noexcept { return origin_; }

  private:
    std::string origin_;
};

}  // namespace shmbus::config
