// The bridge's configuration: what it accepts, and a clear error naming the key or topic for
// what it does not, both from the reader and from the program (a non-zero exit).
#include <doctest/doctest.h>

#include <fstream>
#include <shmbus/error.hpp>
#include <shmbus/topic.hpp>
#include <string>

#include "bridge_config.hpp"
#include "bridge_harness.hpp"
#include "support/bus_directory.hpp"

using namespace shmbus::test;
using namespace shmbus::test::bridge;
using namespace shmbus_bridge;
using namespace std::chrono_literals;

namespace {

/// The message parse_bridge_config throws for `text`, or "" if it accepts it.
std::string error_for(const std::string& text) {
    try {
        (void)parse_bridge_config(text, "bridge.toml");
    } catch (const shmbus::Error& error) {
        return error.what();
    }
    return "";
}

const std::string kHead =
    "[nats]\nurl = \"nats://127.0.0.1:4222\"\n[bus]\ndirectory = \"/tmp/b\"\n";

}  // namespace

TEST_CASE("a full configuration is read, the subject template filled in") {
    const BridgeConfig config = parse_bridge_config(
        "[nats]\nurls = [\"nats://127.0.0.1:4222\", \"nats://127.0.0.1:4223\"]\n"
        "max_reconnect = 10\nreconnect_wait_ms = 250\n"
        "[bus]\ndirectory = \"/tmp/b\"\n[bridge]\norigin = \"host-1\"\n"
        "[[outbound]]\ntopic = \"prices\"\nsubject = \"shmbus.{topic}.v1\"\n"
        "[[inbound]]\nsubject = \"orders.*.>\"\ntopic = \"orders\"\noffer_timeout_ms = 50\n",
        "bridge.toml");
    CHECK(config.nats.urls.size() == 2);
    CHECK(config.nats.max_reconnect == 10);
    CHECK(config.nats.reconnect_wait_ms == 250);
    CHECK(config.origin == "host-1");
    REQUIRE(config.outbound.size() == 1);
    CHECK(config.outbound[0].subject == "shmbus.prices.v1");
    REQUIRE(config.inbound.size() == 1);
    CHECK(config.inbound[0].subject == "orders.*.>");
    CHECK(config.inbound[0].offer_timeout_ms == 50);
}

TEST_CASE("the origin defaults to the host name and the bus directory") {
    const BridgeConfig config =
        parse_bridge_config(kHead + "[[outbound]]\ntopic = \"t\"\nsubject = \"s\"\n", "b.toml");
    CHECK(config.origin.find(":/tmp/b") != std::string::npos);
}

TEST_CASE("errors name the place and the key") {
    CHECK(error_for(kHead + "[[outbound]]\ntopic = \"t\"\nsubjcet = \"s\"\n")
              .find("bridge.toml:7:1: unknown key 'subjcet' in [[outbound]] #1") == 0);
    CHECK(error_for(kHead + "[[outbound]]\nsubject = \"s\"\n")
              .find("[[outbound]] #1 needs a topic") != std::string::npos);
    CHECK(
        error_for(kHead + "[[inbound]]\ntopic = \"t\"\n").find("[[inbound]] #1 needs a subject") !=
        std::string::npos);
    CHECK(error_for(kHead + "[[outbound]]\ntopic = \"t\"\nsubject = \"a.>\"\n")
              .find("cannot hold the wildcards") != std::string::npos);
    CHECK(
        error_for(kHead + "[[inbound]]\ntopic = \"t\"\nsubject = \"a..b\"\n").find("empty token") !=
        std::string::npos);
    CHECK(error_for(kHead + "[[inbound]]\ntopic = \"t\"\nsubject = \"a.>.b\"\n")
              .find("'>' must be the last token") != std::string::npos);
    CHECK(error_for(kHead).find("no routes") != std::string::npos);
    CHECK(error_for("[bus]\ndirectory = \"/tmp/b\"\n").find("[nats] is missing") !=
          std::string::npos);
    CHECK(error_for(kHead + "[nats2]\n").find("unknown key 'nats2' in the top level") !=
          std::string::npos);
    CHECK(error_for(kHead + "[[outbound]]\ntopic = \"t\"\nsubject = \"s\"\n[[inbound]]\n"
                            "topic = 5\nsubject = \"s\"\n")
              .find("[[inbound]] #1.topic must be a string") != std::string::npos);
    CHECK(error_for("[nats]\nurl = \"nats://x\"\ncreds_file = \"/nonexistent/user.creds\"\n"
                    "[bus]\ndirectory = \"/tmp/b\"\n[[outbound]]\ntopic = \"t\"\nsubject = \"s\"\n")
              .find("nats.creds_file '/nonexistent/user.creds' cannot be read") !=
          std::string::npos);
    CHECK(error_for("[nats]\nurl = \"nats://x\"\nnkey_file = \"/nonexistent/seed\"\n"
                    "nkey_public = \"UABC\"\n[bus]\ndirectory = \"/tmp/b\"\n[[outbound]]\n"
                    "topic = \"t\"\nsubject = \"s\"\n")
              .find("nats.nkey_file '/nonexistent/seed' cannot be read") != std::string::npos);
}

TEST_CASE("the program refuses a topic that does not exist, naming it, with a non-zero exit") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "here");
    BridgeProcess bridge(bus.path(), "[nats]\nurl = \"nats://127.0.0.1:1\"\n[bus]\ndirectory = \"" +
                                         bus.path().string() +
                                         "\"\n[[outbound]]\ntopic = \"here\"\nsubject = \"s\"\n"
                                         "[[inbound]]\nsubject = \"in\"\ntopic = \"missing\"\n");
    const auto exit = bridge.wait(deadline_in(10s));
    REQUIRE(exit.has_value());
    CHECK(exit->exited);
    CHECK(exit->code == 2);
    CHECK(bridge.log().find("[[inbound]] topic 'missing' does not exist in " +
                            bus.path().string()) != std::string::npos);
}

TEST_CASE("the program refuses an unknown key with a non-zero exit and the key's name") {
    BusDirectory bus;
    BridgeProcess bridge(bus.path(), "[nats]\nurl = \"nats://127.0.0.1:1\"\npassword = \"x\"\n");
    const auto exit = bridge.wait(deadline_in(10s));
    REQUIRE(exit.has_value());
    CHECK(exit->code == 2);
    CHECK(bridge.log().find("unknown key 'password' in [nats]") != std::string::npos);
}

TEST_CASE("a credentials file's content is never written to the log") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t");
    const auto creds = bus.path() / "user.creds";
    std::ofstream(creds) << "-----BEGIN NATS USER JWT-----\nSECRET-JWT-TEXT\n"
                            "------END NATS USER JWT------\n";
    // No server at that port: libnats reads the file when it connects, or fails on its format.
    BridgeProcess bridge(
        bus.path(), "[nats]\nurl = \"nats://127.0.0.1:1\"\ncreds_file = \"" + creds.string() +
                        "\"\nmax_reconnect = 0\n[bus]\n"
                        "directory = \"" +
                        bus.path().string() + "\"\n[[outbound]]\ntopic = \"t\"\nsubject = \"s\"\n");
    // It may start and retry, or stop on the bad file: either way, the secret stays out.
    (void)bridge.wait_for_log("ready:", deadline_in(3s));
    (void)bridge.stop(deadline_in(10s));
    const std::string log = bridge.log();
    CHECK(log.find("SECRET") == std::string::npos);
    CHECK(log.find("JWT-TEXT") == std::string::npos);
}

TEST_CASE("the program stops with status 1 when libnats gives up reconnecting") {
    BusDirectory bus;
    shmbus::create_topic(bus.path(), "t");
    // Port 1 on loopback: nothing listens there, and one attempt is all max_reconnect allows.
    BridgeProcess bridge(bus.path(),
                         "[nats]\nurl = \"nats://127.0.0.1:1\"\nmax_reconnect = 0\n"
                         "reconnect_wait_ms = 10\n[bus]\ndirectory = \"" +
                             bus.path().string() +
                             "\"\n[[outbound]]\ntopic = \"t\"\nsubject = \"s\"\n");
    const auto exit = bridge.wait(deadline_in(20s));
    REQUIRE_MESSAGE(exit.has_value(), bridge.log());
    CHECK(exit->exited);
    CHECK(exit->code == 1);
    CHECK(bridge.log().find("connection closed for good") != std::string::npos);
}
