#include "bridge_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <shmbus/config/toml_reader.hpp>
#include <shmbus/detail/util/topic_name.hpp>
#include <shmbus/error.hpp>
#include <shmbus/topic.hpp>
#include <sstream>

namespace shmbus_bridge {
namespace {

/// Why `subject` is not a NATS subject the bridge accepts, or nullopt. Tokens are separated by
/// dots and may not be empty; whitespace would split the protocol line the server reads.
std::optional<std::string> subject_problem(const std::string& subject, bool wildcards) {
    if (subject.empty()) return "it is empty";
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = subject.find('.', start);
        const std::string token =
            subject.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (token.empty()) return "it has an empty token (two dots, or a dot at an end)";
        for (const char c : token) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0')
                return "it holds whitespace";
        }
        const bool wildcard_token = token == "*" || token == ">";
        if (!wildcards &&
            (token.find('*') != std::string::npos || token.find('>') != std::string::npos)) {
            return "an outbound subject cannot hold the wildcards '*' or '>'";
        }
        if (wildcards && !wildcard_token &&
            (token.find('*') != std::string::npos || token.find('>') != std::string::npos)) {
            return "a wildcard must be a whole token";
        }
        if (token == ">" && dot != std::string::npos) return "'>' must be the last token";
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return std::nullopt;
}

/// Walks the parsed document; every error names the place in the file and the key.
class Reader : public shmbus::config::TomlReader {
  public:
    using TomlReader::TomlReader;

    /// Every string the bridge reads means something only when it is not empty.
    std::string string(const toml::node& node, const std::string& name) const {
        std::string value = TomlReader::string(node, name);
        if (value.empty()) fail(node.source(), name + " must not be empty");
        return value;
    }

    /// A file the bridge hands to libnats. Checked here so that a missing or unreadable one
    /// is named at start; only its path is ever written anywhere, never what it holds.
    std::filesystem::path readable_file(const toml::node& node, const std::string& name) const {
        const std::filesystem::path path = string(node, name);
        std::ifstream probe(path);
        if (!probe) {
            fail(node.source(),
                 name + " '" + path.string() + "' cannot be read: " + std::strerror(errno));
        }
        return path;
    }

    void nats(const toml::table& table, NatsSettings& nats) const {
        only_keys(table, "[nats]",
                  {"url", "urls", "creds_file", "nkey_file", "nkey_public", "max_reconnect",
                   "reconnect_wait_ms"});
        if (const toml::node* url = table.get("url")) nats.urls.push_back(string(*url, "nats.url"));
        if (const toml::node* urls = table.get("urls")) {
            if (!nats.urls.empty()) fail(urls->source(), "give nats.url or nats.urls, not both");
            if (!urls->is_array()) fail(urls->source(), "nats.urls must be an array of strings");
            for (const toml::node& url : *urls->as_array())
                nats.urls.push_back(string(url, "each of nats.urls"));
            if (nats.urls.empty()) fail(urls->source(), "nats.urls must name at least one URL");
        }
        if (nats.urls.empty()) fail(table.source(), "[nats] needs url (or urls)");
        if (const toml::node* creds = table.get("creds_file"))
            nats.creds_file = readable_file(*creds, "nats.creds_file");
        if (const toml::node* nkey = table.get("nkey_file"))
            nats.nkey_file = readable_file(*nkey, "nats.nkey_file");
        if (const toml::node* pub = table.get("nkey_public"))
            nats.nkey_public = string(*pub, "nats.nkey_public");
        if (nats.nkey_file.has_value() != !nats.nkey_public.empty())
            fail(table.source(), "nats.nkey_file and nats.nkey_public go together");
        if (nats.creds_file && nats.nkey_file)
            fail(table.source(), "give nats.creds_file or nats.nkey_file, not both");
        if (const toml::node* max = table.get("max_reconnect"))
            nats.max_reconnect = static_cast<int>(integer(*max, "nats.max_reconnect", -1, 1 << 30));
        if (const toml::node* wait = table.get("reconnect_wait_ms"))
            nats.reconnect_wait_ms = integer(*wait, "nats.reconnect_wait_ms", 10, 3'600'000);
    }

    std::string topic(const toml::table& route, const std::string& name) const {
        const toml::node* node = route.get("topic");
        if (node == nullptr) fail(route.source(), name + " needs a topic");
        std::string topic = string(*node, name + ".topic");
        if (auto problem = shmbus::topic_name_problem(topic))
            fail(node->source(), name + ".topic '" + topic + "': " + *problem);
        return topic;
    }

    std::string subject(const toml::table& route, const std::string& name, bool wildcards,
                        const std::string& topic_name) const {
        const toml::node* node = route.get("subject");
        if (node == nullptr) fail(route.source(), name + " needs a subject");
        std::string subject = string(*node, name + ".subject");
        if (!wildcards) {
            // The template's one placeholder, so a route's subject can follow its topic.
            for (std::size_t at = subject.find("{topic}"); at != std::string::npos;
                 at = subject.find("{topic}", at + topic_name.size())) {
                subject.replace(at, 7, topic_name);
            }
        }
        if (auto problem = subject_problem(subject, wildcards))
            fail(node->source(), name + ".subject '" + subject + "': " + *problem);
        return subject;
    }

    const toml::array* routes(const toml::table& root, std::string_view key) const {
        const toml::node* node = root.get(key);
        if (node == nullptr) return nullptr;
        if (!node->is_array_of_tables())
            fail(node->source(),
                 std::string(key) + " must be written [[" + std::string(key) + "]]");
        return node->as_array();
    }

    BridgeConfig read(const toml::table& root) const {
        BridgeConfig config;
        config.source = origin_;
        only_keys(root, "the top level", {"nats", "bus", "bridge", "outbound", "inbound"});

        const toml::table* nats_table = table(root, "nats", "[nats]");
        if (nats_table == nullptr) fail(root.source(), "[nats] is missing (it needs url)");
        nats(*nats_table, config.nats);

        const toml::table* bus = table(root, "bus", "[bus]");
        if (bus == nullptr || bus->get("directory") == nullptr)
            fail(root.source(), "[bus] directory is missing");
        only_keys(*bus, "[bus]", {"directory"});
        config.bus_directory = string(*bus->get("directory"), "bus.directory");

        if (const toml::table* bridge = table(root, "bridge", "[bridge]")) {
            only_keys(*bridge, "[bridge]", {"origin"});
            if (const toml::node* origin = bridge->get("origin"))
                config.origin = string(*origin, "bridge.origin");
        }
        if (config.origin.empty()) config.origin = default_origin(config.bus_directory);

        if (const toml::array* outbound = routes(root, "outbound")) {
            for (const toml::node& node : *outbound) {
                const toml::table& route = *node.as_table();
                const std::string name =
                    "[[outbound]] #" + std::to_string(config.outbound.size() + 1);
                only_keys(route, name, {"topic", "subject"});
                OutboundRoute out;
                out.topic = topic(route, name);
                out.subject = subject(route, name, false, out.topic);
                out.line = static_cast<int>(route.source().begin.line);
                config.outbound.push_back(std::move(out));
            }
        }
        if (const toml::array* inbound = routes(root, "inbound")) {
            for (const toml::node& node : *inbound) {
                const toml::table& route = *node.as_table();
                const std::string name =
                    "[[inbound]] #" + std::to_string(config.inbound.size() + 1);
                only_keys(route, name, {"subject", "topic", "offer_timeout_ms"});
                InboundRoute in;
                in.topic = topic(route, name);
                in.subject = subject(route, name, true, in.topic);
                if (const toml::node* wait = route.get("offer_timeout_ms"))
                    in.offer_timeout_ms = integer(*wait, name + ".offer_timeout_ms", 0, 60'000);
                in.line = static_cast<int>(route.source().begin.line);
                config.inbound.push_back(std::move(in));
            }
        }
        if (config.outbound.empty() && config.inbound.empty())
            fail(root.source(), "no routes: give at least one [[outbound]] or [[inbound]]");
        return config;
    }

  private:
    std::string origin_;
};

}  // namespace

BridgeConfig parse_bridge_config(const std::string& text, const std::string& origin) {
    return Reader(origin).read(shmbus::config::parse_toml(text, origin));
}

BridgeConfig load_bridge_config(const std::filesystem::path& path) {
    std::ifstream file(path);
    if (!file) {
        throw shmbus::Error(shmbus::ErrorCode::kNotFound,
                            "cannot read " + path.string() + ": " + std::strerror(errno));
    }
    std::ostringstream text;
    text << file.rdbuf();
    return parse_bridge_config(text.str(), path.string());
}

std::optional<std::string> bridge_topics_problem(const BridgeConfig& config) {
    const std::vector<std::string> topics = shmbus::list_topics(config.bus_directory);
    const auto exists = [&](const std::string& name) {
        return std::find(topics.begin(), topics.end(), name) != topics.end();
    };
    const std::string where = config.source.string() + ":";
    for (const OutboundRoute& route : config.outbound) {
        if (!exists(route.topic)) {
            return where + std::to_string(route.line) + ": [[outbound]] topic '" + route.topic +
                   "' does not exist in " + config.bus_directory.string();
        }
    }
    for (const InboundRoute& route : config.inbound) {
        if (!exists(route.topic)) {
            return where + std::to_string(route.line) + ": [[inbound]] topic '" + route.topic +
                   "' does not exist in " + config.bus_directory.string();
        }
    }
    return std::nullopt;
}

std::string default_origin(const std::filesystem::path& bus_directory) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown-host");
    return std::string(host) + ":" + bus_directory.string();
}

}  // namespace shmbus_bridge
