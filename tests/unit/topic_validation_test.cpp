// Topic::open refuses every file it cannot trust, with the ErrorCode a caller acts on and a
// message that names the problem; create_topic and open refuse every name that could escape
// the bus directory.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <shmbus/detail/format/geometry.hpp>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/detail/format/state_layout.hpp>
#include <shmbus/shmbus.hpp>
#include <string>

#include "support/bus_directory.hpp"
#include "support/records.hpp"
#include "support/topic_files.hpp"

namespace {

using shmbus::ErrorCode;
using shmbus::format::RecordsHeader;
using shmbus::format::StateHeader;
namespace fs = std::filesystem;

constexpr shmbus::TopicOptions kSmall{
    .capacity = 4096, .max_record_size = 256, .max_publishers = 4, .max_subscribers = 4};

struct Refusal {
    ErrorCode code;
    std::string message;
};

// What Topic::open throws, or a refusal with an empty message if it opened.
Refusal open_refusal(const fs::path& dir, const std::string& name) {
    try {
        (void)shmbus::Topic::open(dir, name);
    } catch (const shmbus::Error& error) {
        return Refusal{error.code(), error.what()};
    }
    return Refusal{ErrorCode::kSystem, ""};
}

// A fresh topic whose records header is patched by `patch` through the file, then opened.
Refusal open_with_records_patch(const std::function<void(const fs::path&)>& patch) {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    patch(shmbus::test::topic_paths(bus.path(), "t").records);
    return open_refusal(bus.path(), "t");
}

template <typename T>
Refusal open_with_records_field(std::size_t offset, T value) {
    return open_with_records_patch([&](const fs::path& records) {
        shmbus::test::overwrite_file_value(records, offset, value);
    });
}

template <typename T>
Refusal open_with_state_field(std::size_t offset, T value) {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    shmbus::test::overwrite_file_value(shmbus::test::topic_paths(bus.path(), "t").state, offset,
                                       value);
    return open_refusal(bus.path(), "t");
}

bool mentions(const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
}

void require_format_error(const Refusal& refusal, const std::string& problem,
                          const std::string& file = "records file") {
    INFO("message: " << refusal.message);
    CHECK(refusal.code == ErrorCode::kFormat);
    CHECK(mentions(refusal.message, problem));
    CHECK(mentions(refusal.message, file));
    CHECK(mentions(refusal.message, "topic 't'"));
}

}  // namespace

TEST_CASE("a topic created with valid parameters opens and reports them") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
    CHECK(topic.capacity() == 4096);
    CHECK(topic.max_record_size() == 256);
    CHECK(topic.policy() == shmbus::Policy::kBlock);
    CHECK(topic.name() == "t");
}

TEST_CASE("every geometry rule of check_parameters is enforced by create_topic") {
    shmbus::test::BusDirectory bus;
    struct Case {
        const char* what;
        shmbus::TopicOptions options;
        const char* problem;
    };
    const Case cases[] = {
        {"capacity not a power of two", {.capacity = 3000}, "capacity 3000"},
        {"capacity below the minimum", {.capacity = 512, .max_record_size = 64}, "capacity 512"},
        {"capacity above the maximum", {.capacity = std::uint64_t{1} << 41}, "capacity"},
        {"record frame over a quarter of the ring",
         {.capacity = 4096, .max_record_size = 993},
         "max record size 993"},
        {"record over the absolute limit",
         {.capacity = std::uint64_t{1} << 40, .max_record_size = (1u << 30) + 8},
         "max record size 1073741832"},
        {"no publishers",
         {.capacity = 4096, .max_record_size = 64, .max_publishers = 0},
         "max publishers 0"},
        {"too many publishers",
         {.capacity = 4096, .max_record_size = 64, .max_publishers = 513},
         "max publishers 513"},
        {"no subscribers",
         {.capacity = 4096, .max_record_size = 64, .max_subscribers = 0},
         "max subscribers 0"},
        {"too many subscribers",
         {.capacity = 4096, .max_record_size = 64, .max_subscribers = 513},
         "max subscribers 513"},
        {"unknown policy",
         {.capacity = 4096, .max_record_size = 64, .policy = static_cast<shmbus::Policy>(7)},
         "policy 7"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        try {
            shmbus::create_topic(bus.path(), "t", c.options);
            FAIL("created a topic with " << c.what);
        } catch (const shmbus::Error& error) {
            INFO("message: " << error.what());
            CHECK(error.code() == ErrorCode::kInvalidArgument);
            CHECK(mentions(error.what(), c.problem));
        }
        CHECK(shmbus::list_topics(bus.path()).empty());
    }
    // The limits themselves are accepted.
    shmbus::create_topic(
        bus.path(), "edge",
        {.capacity = 1024, .max_record_size = 224, .max_publishers = 512, .max_subscribers = 512});
    CHECK(shmbus::Topic::open(bus.path(), "edge").max_record_size() == 224);
}

TEST_CASE("Topic::open refuses a records header whose parameters break a geometry rule") {
    struct Case {
        const char* what;
        std::function<Refusal()> open;
        const char* problem;
    };
    const Case cases[] = {
        {"capacity not a power of two",
         [] {
             return open_with_records_field<std::uint64_t>(offsetof(RecordsHeader, capacity), 3000);
         },
         "capacity 3000"},
        {"capacity below the minimum",
         [] {
             return open_with_records_field<std::uint64_t>(offsetof(RecordsHeader, capacity), 512);
         },
         "capacity 512"},
        {"capacity above the maximum",
         [] {
             return open_with_records_field<std::uint64_t>(offsetof(RecordsHeader, capacity),
                                                           std::uint64_t{1} << 41);
         },
         "capacity 2199023255552"},
        {"record frame over a quarter of the ring",
         [] {
             return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, max_record_size),
                                                           993);
         },
         "max record size 993"},
        {"record over the absolute limit",
         [] {
             return open_with_records_patch([](const fs::path& records) {
                 shmbus::test::overwrite_file_value<std::uint64_t>(
                     records, offsetof(RecordsHeader, capacity), std::uint64_t{1} << 40);
                 shmbus::test::overwrite_file_value<std::uint32_t>(
                     records, offsetof(RecordsHeader, max_record_size), (1u << 30) + 8);
             });
         },
         "max record size 1073741832"},
        {"no publishers",
         [] {
             return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, max_publishers),
                                                           0);
         },
         "max publishers 0"},
        {"too many publishers",
         [] {
             return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, max_publishers),
                                                           513);
         },
         "max publishers 513"},
        {"no subscribers",
         [] {
             return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, max_subscribers),
                                                           0);
         },
         "max subscribers 0"},
        {"too many subscribers",
         [] {
             return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, max_subscribers),
                                                           513);
         },
         "max subscribers 513"},
        {"unknown policy",
         [] { return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, policy), 2); },
         "policy 2 is unknown"},
        {"unknown flags",
         [] { return open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, flags), 4); },
         "bits this version does not know"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const Refusal refusal = c.open();
        require_format_error(refusal, c.problem);
        CHECK(mentions(refusal.message, "inconsistent parameters"));
    }
}

TEST_CASE("Topic::open refuses a records file with the wrong magic as not a shmbus file") {
    const Refusal refusal = open_with_records_field<std::uint64_t>(offsetof(RecordsHeader, magic),
                                                                   0x0123456789abcdefull);
    require_format_error(refusal, "wrong magic");
}

TEST_CASE("Topic::open refuses another format version with kIncompatible, naming both versions") {
    // A topic made by a shmbus of format version 1, whose every record had a timestamp word.
    const Refusal refusal =
        open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, format_version), 1);
    INFO("message: " << refusal.message);
    CHECK(refusal.code == ErrorCode::kIncompatible);
    CHECK(mentions(refusal.message, "format version 1"));
    CHECK(mentions(refusal.message, "reads version 3"));

    const Refusal state =
        open_with_state_field<std::uint32_t>(offsetof(StateHeader, format_version), 9);
    INFO("message: " << state.message);
    CHECK(state.code == ErrorCode::kIncompatible);
    CHECK(mentions(state.message, "state file"));
    CHECK(mentions(state.message, "format version 9"));
}

TEST_CASE("Topic::open refuses a header size other than 4096") {
    require_format_error(
        open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, header_size), 8192),
        "header size 8192");
}

TEST_CASE("Topic::open refuses a records file shorter than its parameters need") {
    const shmbus::format::Geometry geometry = shmbus::format::compute_geometry(
        {.capacity = 4096, .max_record_size = 256, .max_publishers = 4, .max_subscribers = 4});
    SUBCASE("missing the last bytes of the ring") {
        require_format_error(open_with_records_patch([&](const fs::path& records) {
                                 shmbus::test::resize_file(records, geometry.records_file_size - 8);
                             }),
                             "truncated");
    }
    SUBCASE("shorter than its header") {
        require_format_error(open_with_records_patch([](const fs::path& records) {
                                 shmbus::test::resize_file(records, 100);
                             }),
                             "truncated");
    }
    SUBCASE("empty") {
        require_format_error(open_with_records_patch([](const fs::path& records) {
                                 shmbus::test::resize_file(records, 0);
                             }),
                             "truncated");
    }
}

TEST_CASE("Topic::open refuses a records file longer than its parameters need") {
    const shmbus::format::Geometry geometry = shmbus::format::compute_geometry(
        {.capacity = 4096, .max_record_size = 256, .max_publishers = 4, .max_subscribers = 4});
    require_format_error(open_with_records_patch([&](const fs::path& records) {
                             shmbus::test::resize_file(records, geometry.records_file_size + 4096);
                         }),
                         std::to_string(geometry.records_file_size) + " expected");
}

TEST_CASE("Topic::open refuses offsets that disagree with the declared parameters") {
    SUBCASE("ring offset") {
        require_format_error(open_with_records_field<std::uint64_t>(
                                 offsetof(RecordsHeader, ring_offset), 8192 + 4096),
                             "inconsistent offsets");
    }
    SUBCASE("publisher slots offset") {
        require_format_error(open_with_records_field<std::uint64_t>(
                                 offsetof(RecordsHeader, publisher_slots_offset), 64),
                             "inconsistent offsets");
    }
    SUBCASE("declared file size") {
        require_format_error(
            open_with_records_field<std::uint64_t>(offsetof(RecordsHeader, file_size), 1 << 20),
            "header declares 1048576 bytes");
    }
    SUBCASE("state file layout") {
        require_format_error(open_with_state_field<std::uint64_t>(
                                 offsetof(StateHeader, publisher_waits_offset), 4096),
                             "layout does not match", "state file");
    }
    SUBCASE("state file slot count") {
        require_format_error(
            open_with_state_field<std::uint32_t>(offsetof(StateHeader, max_subscribers), 5),
            "layout does not match", "state file");
    }
}

TEST_CASE("Topic::open refuses a topic name field without its terminating NUL") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    const std::string unterminated(shmbus::format::kTopicNameField, 'x');
    shmbus::test::overwrite_file(shmbus::test::topic_paths(bus.path(), "t").records,
                                 offsetof(RecordsHeader, name),
                                 std::as_bytes(std::span(unterminated)));
    require_format_error(open_refusal(bus.path(), "t"), "not terminated");
}

TEST_CASE("Topic::open refuses a state file that belongs to another topic") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    shmbus::create_topic(bus.path(), "other", kSmall);
    const auto mine = shmbus::test::topic_paths(bus.path(), "t");
    const auto theirs = shmbus::test::topic_paths(bus.path(), "other");
    fs::copy_file(theirs.state, mine.state, fs::copy_options::overwrite_existing);
    require_format_error(open_refusal(bus.path(), "t"), "different topic instance", "state file");
    // The other topic is untouched and still opens.
    CHECK_NOTHROW((void)shmbus::Topic::open(bus.path(), "other"));
}

TEST_CASE("Topic::open refuses a state file with the wrong magic, or too long") {
    SUBCASE("magic") {
        require_format_error(open_with_state_field<std::uint64_t>(offsetof(StateHeader, magic), 1),
                             "wrong magic", "state file");
    }
    SUBCASE("oversized") {
        shmbus::test::BusDirectory bus;
        shmbus::create_topic(bus.path(), "t", kSmall);
        const auto paths = shmbus::test::topic_paths(bus.path(), "t");
        shmbus::test::resize_file(paths.state, fs::file_size(paths.state) + 4096);
        require_format_error(open_refusal(bus.path(), "t"), "wrong size", "state file");
    }
}

TEST_CASE(
    "Topic::open makes a state file cut short, or emptied, whole again from the records file") {
    for (const std::uint64_t cut : {std::uint64_t{64}, std::uint64_t{4096}, std::uint64_t{0}}) {
        CAPTURE(cut);
        shmbus::test::BusDirectory bus;
        shmbus::create_topic(bus.path(), "t", kSmall);
        const auto paths = shmbus::test::topic_paths(bus.path(), "t");
        const std::uint64_t size = fs::file_size(paths.state);
        const std::string before = shmbus::test::read_file_bytes(paths.state).substr(0, 64);
        shmbus::test::resize_file(paths.state, cut == 0 ? 0 : size - cut);
        const shmbus::Topic topic = shmbus::Topic::open(bus.path(), "t");
        CHECK(fs::file_size(paths.state) == size);
        // The identity line, rebuilt from the records file, is the one the topic was made with.
        CHECK(shmbus::test::read_file_bytes(paths.state).substr(0, 64) == before);
        shmbus::Publisher publisher(topic);
        shmbus::Subscriber subscriber(topic, {.start = shmbus::StartAt::earliest()});
        REQUIRE(publisher.try_offer(shmbus::test::bytes_of("whole")) == shmbus::Status::kOk);
        CHECK(shmbus::test::drain(subscriber).size() == 1);
    }
}

TEST_CASE("Topic::open refuses a state file whose identity line is not zero but is not its own") {
    // Only a line that reads zero is rebuilt: anything else was written by someone, and is
    // reported rather than guessed at.
    require_format_error(
        open_with_state_field<std::uint32_t>(offsetof(StateHeader, max_subscribers), 7),
        "layout does not match", "state file");
}

TEST_CASE("Topic::open of a topic that does not exist, or lacks a file, is kNotFound") {
    shmbus::test::BusDirectory bus;
    Refusal refusal = open_refusal(bus.path(), "absent");
    CHECK(refusal.code == ErrorCode::kNotFound);
    CHECK(mentions(refusal.message, "absent"));

    shmbus::create_topic(bus.path(), "t", kSmall);
    fs::remove(shmbus::test::topic_paths(bus.path(), "t").state);
    refusal = open_refusal(bus.path(), "t");
    INFO("message: " << refusal.message);
    CHECK(refusal.code == ErrorCode::kNotFound);
    CHECK(mentions(refusal.message, "state"));
}

TEST_CASE("topic names that could leave the bus directory or confuse tools are refused") {
    shmbus::test::BusDirectory bus;
    // A directory the traversal names would reach, so a wrong acceptance would be visible.
    fs::create_directories(bus.path() / "a");
    struct Case {
        std::string name;
        const char* problem;
    };
    const Case cases[] = {
        {"../etc/passwd", "contains '/'"},
        {"a/b", "contains '/'"},
        {"..", "'..'"},
        {".", "'.'"},
        {".x", "starts with '.'"},
        {"-x", "starts with '-'"},
        {"", "empty"},
        {std::string(64, 'n'), "64 characters"},
        {std::string("a\x01z", 3), "\\x01"},
        {std::string("a\nz", 3), "\\x0a"},
        {std::string("a\0z", 3), "\\x00"},
        {"a b", "outside [A-Za-z0-9._-]"},
        {"a..b", "'..'"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        try {
            shmbus::create_topic(bus.path(), c.name, kSmall);
            FAIL("create_topic accepted the name");
        } catch (const shmbus::Error& error) {
            INFO("message: " << error.what());
            CHECK(error.code() == ErrorCode::kInvalidArgument);
            CHECK(mentions(error.what(), c.problem));
        }
        try {
            (void)shmbus::Topic::open(bus.path(), c.name);
            FAIL("Topic::open accepted the name");
        } catch (const shmbus::Error& error) {
            INFO("message: " << error.what());
            CHECK(error.code() == ErrorCode::kInvalidArgument);
            CHECK(mentions(error.what(), c.problem));
        }
    }
    // Nothing was created anywhere: only the directory this test made is there.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(bus.path()))
        ++entries;
    CHECK(entries == 1);
    CHECK(fs::is_empty(bus.path() / "a"));
}

TEST_CASE("a 63-character name and every allowed character are accepted") {
    shmbus::test::BusDirectory bus;
    const std::string longest(63, 'n');
    shmbus::create_topic(bus.path(), longest, kSmall);
    CHECK(shmbus::Topic::open(bus.path(), longest).name() == longest);
    shmbus::create_topic(bus.path(), "Az09._-x", kSmall);
    CHECK(shmbus::list_topics(bus.path()) == std::vector<std::string>{"Az09._-x", longest});
}

TEST_CASE("creating a topic that exists is kExists and leaves the first one intact") {
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    try {
        shmbus::create_topic(bus.path(), "t", {.capacity = 8192, .max_record_size = 64});
        FAIL("created the topic twice");
    } catch (const shmbus::Error& error) {
        CHECK(error.code() == ErrorCode::kExists);
        CHECK(mentions(error.what(), "already exists"));
    }
    CHECK(shmbus::Topic::open(bus.path(), "t").capacity() == 4096);
}

TEST_CASE(
    "a topic stamped with the next format version is refused with kIncompatible by code built for "
    "this one") {
    const std::uint32_t next = shmbus::format::kFormatVersion + 1;
    const Refusal refusal =
        open_with_records_field<std::uint32_t>(offsetof(RecordsHeader, format_version), next);
    INFO("message: " << refusal.message);
    CHECK(refusal.code == ErrorCode::kIncompatible);
    CHECK(mentions(refusal.message, "format version " + std::to_string(next)));
    CHECK(mentions(refusal.message,
                   "reads version " + std::to_string(shmbus::format::kFormatVersion)));
}

TEST_CASE(
    "an application whose inlined protocol was built for another format version is refused every "
    "topic, with kIncompatible naming both") {
    // What an application compiled against an older or newer libshmbus header passes to this
    // library's Topic::open (which is inline, and so compiled into the application).
    shmbus::test::BusDirectory bus;
    shmbus::create_topic(bus.path(), "t", kSmall);
    for (const std::uint32_t built_for :
         {shmbus::format::kFormatVersion - 1, shmbus::format::kFormatVersion + 1}) {
        CAPTURE(built_for);
        try {
            (void)shmbus::Topic::open_for_format(bus.path(), "t", {}, built_for);
            FAIL("a topic was opened for code built for format " << built_for);
        } catch (const shmbus::Error& error) {
            CHECK(error.code() == ErrorCode::kIncompatible);
            const std::string message = error.what();
            CHECK(mentions(message, "built for topic format version " + std::to_string(built_for)));
            CHECK(mentions(message,
                           "reads version " + std::to_string(shmbus::format::kFormatVersion)));
            CHECK(mentions(message, "rebuild"));
        }
    }
    // The version this code was built for opens it.
    CHECK_NOTHROW((void)shmbus::Topic::open(bus.path(), "t"));
}
