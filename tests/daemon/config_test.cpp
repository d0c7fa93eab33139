#include "config.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <shmbus/error.hpp>
#include <string>

#include "config_values.hpp"
#include "daemon_harness.hpp"

using shmbusd::parse_config;

namespace {

/// The message parse_config throws for `text`, or "" if it parses.
std::string error_for(const std::string& text) {
    try {
        (void)parse_config(text, "test.toml");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == shmbus::ErrorCode::kInvalidArgument);
        return error.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("an empty configuration gives the documented defaults") {
    const shmbusd::Config config = parse_config("", "empty");
    CHECK(config.check_interval == std::chrono::milliseconds(250));
    CHECK(config.unblock_timeout == std::chrono::milliseconds(2000));
    CHECK(config.defaults.capacity == (1u << 20));
    CHECK(config.defaults.max_record_size == 64 * 1024);
    CHECK(config.defaults.policy == shmbus::Policy::kBlock);
    CHECK(config.defaults.timestamps);
    CHECK_FALSE(config.defaults.fenced_commits);
    CHECK(config.defaults.slow_subscriber.action == shmbusd::SlowSubscriberAction::kWait);
    CHECK(config.defaults.publishers.mode == 0660);
    CHECK(config.defaults.subscribers.mode == 0660);
    CHECK(config.topics.empty());
    CHECK(config.warnings.empty());
}

TEST_CASE("a topic table inherits the defaults and overrides what it names") {
    const shmbusd::Config config = parse_config(R"(
[supervision]
check_interval = "100ms"
unblock_timeout = "1s"

[defaults]
capacity = "4MiB"
slow_subscriber = "evict"
evict_after = "5s"
subscribers = { mode = "0660" }

[topics.orders]
max_record_size = "1KiB"
publishers = { mode = 0o664 }

[topics.ticks]
policy = "overwrite"
slow_subscriber = "wait"
fenced_commits = true
)",
                                                "test.toml");
    REQUIRE(config.topics.size() == 2);
    const shmbusd::TopicSettings& orders = config.settings_for("orders");
    CHECK(orders.capacity == 4u << 20);
    CHECK(orders.max_record_size == 1024);
    CHECK(orders.publishers.mode == 0664);
    CHECK(orders.slow_subscriber.action == shmbusd::SlowSubscriberAction::kEvict);
    CHECK(orders.slow_subscriber.evict_after == std::chrono::seconds(5));
    CHECK(config.settings_for("ticks").policy == shmbus::Policy::kOverwrite);
    CHECK(config.settings_for("ticks").fenced_commits);
    CHECK_FALSE(orders.fenced_commits);
    // Topics the configuration does not name get the defaults.
    CHECK(&config.settings_for("unnamed") == &config.defaults);
    CHECK(config.check_interval == std::chrono::milliseconds(100));
}

TEST_CASE("the sync policy: none by default, interval with its period, inherited from defaults") {
    CHECK(parse_config("", "empty").defaults.sync.policy == shmbusd::SyncPolicy::kNone);
    const shmbusd::Config config = parse_config(
        "[defaults]\nsync = \"interval\"\nsync_interval = \"2s\"\n"
        "[topics.ticks]\n[topics.logs]\nsync = \"none\"\n",
        "test.toml");
    CHECK(config.settings_for("ticks").sync.policy == shmbusd::SyncPolicy::kInterval);
    CHECK(config.settings_for("ticks").sync.interval == std::chrono::milliseconds(2000));
    CHECK(config.settings_for("logs").sync.policy == shmbusd::SyncPolicy::kNone);
}

TEST_CASE("a bad sync policy or interval is an error that names the key and the line") {
    std::string message = error_for("[topics.t]\nsync = \"always\"\n");
    CHECK(contains(message, "test.toml:2:"));
    CHECK(contains(message, "[topics.t].sync is 'always'; it must be \"none\" or \"interval\""));
    CHECK(contains(error_for("[topics.t]\nsync = true\n"), "[topics.t].sync must be a string"));
    message = error_for("[topics.t]\nsync = \"interval\"\nsync_interval = 500\n");
    CHECK(contains(message, "test.toml:3:"));
    CHECK(contains(message, "[topics.t].sync_interval must be a duration string"));
    CHECK(
        contains(error_for("[topics.t]\nsync_interval = \"soon\"\n"), "[topics.t].sync_interval:"));
    message = error_for(
        "[supervision]\ncheck_interval = \"1s\"\n[topics.t]\nsync = \"interval\"\n"
        "sync_interval = \"100ms\"\n");
    CHECK(contains(message,
                   "[topics.t]: sync_interval (100ms) must be at least one check "
                   "interval (1s)"));
    CHECK(contains(error_for("[defaults]\nsync_intervall = \"1s\"\n"),
                   "unknown key 'sync_intervall' in [defaults]"));
}

TEST_CASE("a misspelt key is an error that names the key, the table and the line") {
    const std::string message = error_for("[defaults]\ncapacity = \"1MiB\"\ncapcity = 4\n");
    CHECK(contains(message, "test.toml:3:"));
    CHECK(contains(message, "unknown key 'capcity' in [defaults]"));
}

TEST_CASE("a topic name that could escape the bus directory is refused") {
    CHECK(contains(error_for("[topics.\"../etc/passwd\"]\n"), "contains '/'"));
    CHECK(contains(error_for("[topics.\"..\"]\n"), "contains '..'"));
    CHECK(contains(error_for("[topics.\".hidden\"]\n"), "starts with '.'"));
}

TEST_CASE("a decimal integer mode is refused rather than read as octal") {
    const std::string message = error_for("[defaults]\npublishers = { mode = 660 }\n");
    CHECK(contains(message, "is decimal"));
    CHECK(contains(error_for("[defaults]\npublishers = { mode = \"0755\" }\n"), "executable"));
    CHECK(contains(error_for("[defaults]\nsubscribers = { mode = \"0460\" }\n"),
                   "does not let the owner read and write"));
    CHECK(contains(error_for("[defaults]\nsubscribers = { mode = \"4660\" }\n"), "setuid"));
}

TEST_CASE("layouts the ring cannot have are refused with the topic named") {
    CHECK(contains(error_for("[topics.t]\ncapacity = 3000\n"), "[topics.t]"));
    CHECK(contains(error_for("[topics.t]\ncapacity = \"4KiB\"\nmax_record_size = \"2KiB\"\n"),
                   "[topics.t]"));
    CHECK(contains(error_for("[topics.t]\npolicy = \"lossy\"\n"), "\"block\""));
    CHECK(contains(error_for("[topics.t]\nmax_subscribers = 0\n"), "between 1 and"));
}

TEST_CASE("an unblock timeout shorter than two checks is refused") {
    const std::string message =
        error_for("[supervision]\ncheck_interval = \"1s\"\nunblock_timeout = \"1500ms\"\n");
    CHECK(contains(message, "unblock_timeout (1.5s) must be at least two check intervals"));
}

TEST_CASE("eviction faster than the daemon can see is refused; on an overwrite topic it warns") {
    CHECK(contains(error_for("[defaults]\nslow_subscriber = \"evict\"\nevict_after = \"300ms\"\n"),
                   "evict_after (300ms) must be at least two check intervals"));
    const auto config = parse_config(
        "[topics.t]\npolicy = \"overwrite\"\nslow_subscriber = \"evict\"\n", "test.toml");
    REQUIRE(config.warnings.size() == 1);
    CHECK(contains(config.warnings[0], "no effect on an overwrite topic"));
}

TEST_CASE("unknown users are errors for file owners but only warnings in creation rules") {
    CHECK(contains(error_for("[defaults]\npublishers = { owner = \"no-such-user-xyz\" }\n"),
                   "there is no user 'no-such-user-xyz'"));
    const auto config =
        parse_config("[control]\nallow_groups = [\"no-such-group-xyz\", \"root\"]\n", "t");
    CHECK(config.creation.groups == std::vector<gid_t>{0});
    REQUIRE(config.warnings.size() == 1);
    CHECK(contains(config.warnings[0], "no-such-group-xyz"));
}

TEST_CASE("a syntax error reports the place toml++ found it") {
    CHECK(contains(error_for("[bus]\ndirectory = \"/run/x\n"), "test.toml:2:"));
}

TEST_CASE("the directory of a topic admits exactly the classes that may use its state file") {
    CHECK(shmbusd::directory_mode(0660) == 0750);
    CHECK(shmbusd::directory_mode(0666) == 0755);
    CHECK(shmbusd::directory_mode(0600) == 0700);
    const auto options = shmbusd::topic_options(parse_config(R"(
[defaults]
publishers = { mode = "0664" }
subscribers = { mode = "0660" }
)",
                                                             "t")
                                                    .defaults);
    CHECK(options.records.mode == 0664);
    CHECK(options.state.mode == 0660);
    CHECK(options.directory.mode == 0750);
    CHECK(options.directory.owner == ::geteuid());
    CHECK(options.directory.group == ::getegid());
}

TEST_CASE("sizes, durations and modes parse as documented and refuse the rest") {
    using shmbusd::parse_duration;
    using shmbusd::parse_mode;
    using shmbusd::parse_size;
    CHECK(std::get<std::uint64_t>(parse_size("1048576")) == 1u << 20);
    CHECK(std::get<std::uint64_t>(parse_size("64 KiB")) == 64u << 10);
    CHECK(std::get<std::uint64_t>(parse_size("2GiB")) == std::uint64_t{2} << 30);
    CHECK(std::holds_alternative<std::string>(parse_size("16MB")));
    CHECK(std::holds_alternative<std::string>(parse_size("-1")));
    CHECK(std::holds_alternative<std::string>(parse_size("99999999999TiB")));
    CHECK(std::get<std::chrono::milliseconds>(parse_duration("250ms")).count() == 250);
    CHECK(std::get<std::chrono::milliseconds>(parse_duration("1.5s")).count() == 1500);
    CHECK(std::get<std::chrono::milliseconds>(parse_duration("2m")).count() == 120000);
    CHECK(std::holds_alternative<std::string>(parse_duration("5")));
    CHECK(std::holds_alternative<std::string>(parse_duration("0ms")));
    CHECK(std::get<mode_t>(parse_mode("0640")) == 0640);
    CHECK(std::get<mode_t>(parse_mode("640")) == 0640);
    CHECK(std::holds_alternative<std::string>(parse_mode("0680")));
    CHECK(std::holds_alternative<std::string>(parse_mode("66")));
}

TEST_CASE("the shipped, commented configuration parses") {
    const auto path = shmbus::test::source_dir() / "systemd" / "shmbusd.toml";
    const shmbusd::Config config = shmbusd::load_config(path);
    CHECK(config.directory == "/run/shmbus");
}

TEST_CASE("an archive table records its topic with the documented defaults") {
    const shmbusd::Config config = parse_config(R"(
[supervision]
recorder_command = "/opt/shmbus/bin/shmbus"

[topics.orders.archive]
directory = "/var/lib/shmbus/archive/orders/"

[topics.ticks]
policy = "overwrite"
archive = { directory = "/srv/ticks", segment_size = "1MiB", retain_bytes = "10GiB", retain_age = "168h", sync = "always" }

[topics.plain]
)",
                                                "test.toml");
    CHECK(config.recorder_command == "/opt/shmbus/bin/shmbus");
    const auto& orders = config.settings_for("orders").archive;
    REQUIRE(orders.has_value());
    CHECK(orders->directory.string() == "/var/lib/shmbus/archive/orders");
    CHECK(orders->segment_size == std::uint64_t{64} << 20);
    CHECK_FALSE(orders->retain_bytes.has_value());
    CHECK_FALSE(orders->retain_age.has_value());
    CHECK_FALSE(orders->sync_always);
    const auto& ticks = config.settings_for("ticks").archive;
    REQUIRE(ticks.has_value());
    CHECK(ticks->segment_size == 1u << 20);
    CHECK(ticks->retain_bytes == std::uint64_t{10} << 30);
    CHECK(ticks->retain_age == std::chrono::hours(24 * 7));
    CHECK(ticks->sync_always);
    CHECK_FALSE(config.settings_for("plain").archive.has_value());
    CHECK_FALSE(config.settings_for("other").archive.has_value());
}

TEST_CASE("the recorder command defaults to the installed shmbus") {
    const shmbusd::Config config = parse_config("", "empty");
    CHECK(config.recorder_command.filename() == "shmbus");
    CHECK(config.recorder_command.is_absolute());
    CHECK(contains(error_for("[supervision]\nrecorder_command = \"shmbus\"\n"),
                   "supervision.recorder_command 'shmbus' must be the absolute path"));
}

TEST_CASE("a wrong archive table is refused, naming the key and the line") {
    std::string message = error_for("[topics.t.archive]\nsegment_size = \"1MiB\"\n");
    CHECK(contains(message, "test.toml:1:"));
    CHECK(contains(message, "[topics.t.archive] needs a directory"));
    message = error_for("[topics.t.archive]\ndirectory = \"archive/t\"\n");
    CHECK(contains(message, "test.toml:2:"));
    CHECK(contains(message, "[topics.t.archive].directory 'archive/t' must be an absolute path"));
    message = error_for("[topics.t.archive]\ndirectory = \"/a\"\nsegment_size = \"1KiB\"\n");
    CHECK(contains(message, "test.toml:3:"));
    CHECK(contains(message, "segment_size is 1 KiB; it must be at least 64 KiB"));
    message = error_for("[topics.t.archive]\ndirectory = \"/a\"\nretain_age = \"1500ms\"\n");
    CHECK(contains(message, "test.toml:3:"));
    CHECK(contains(message, "retain_age is 1.5s; it must be a whole number of seconds"));
    CHECK(contains(error_for("[topics.t.archive]\ndirectory = \"/a\"\nretain_bytes = 0\n"),
                   "retain_bytes is 0"));
    message = error_for("[topics.t.archive]\ndirectory = \"/a\"\nsync = \"sometimes\"\n");
    CHECK(contains(message, "test.toml:3:"));
    CHECK(contains(message, "[topics.t.archive].sync is 'sometimes'"));
    message = error_for("[topics.t.archive]\ndirectory = \"/a\"\nsegment = \"1MiB\"\n");
    CHECK(contains(message, "unknown key 'segment' in [topics.t.archive]"));
    message = error_for("[defaults.archive]\ndirectory = \"/a\"\n");
    CHECK(contains(message, "test.toml:1:"));
    CHECK(contains(message, "[defaults.archive]: recording is configured per topic"));
    message = error_for(
        "[topics.a.archive]\ndirectory = \"/arch\"\n[topics.b.archive]\ndirectory = \"/arch/\"\n");
    CHECK(contains(message, "test.toml:3:"));
    CHECK(contains(message, "is topic 'a's archive already"));
}
