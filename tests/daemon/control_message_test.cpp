#include <doctest/doctest.h>

#include <shmbus/detail/control/message.hpp>
#include <string>

namespace control = shmbus::control;

namespace {

std::string refusal_of(const std::string& message) {
    try {
        (void)control::decode_request(message);
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

TEST_CASE("a create request survives encoding with exactly the parameters it names") {
    control::CreateRequest request;
    request.name = "orders";
    request.topic.capacity = std::uint64_t{1} << 24;
    request.topic.policy = shmbus::format::Policy::kOverwrite;
    request.topic.timestamps = false;
    request.topic.fenced_commits = true;
    const control::CreateRequest decoded =
        control::decode_request(control::encode_request(request));
    CHECK(decoded == request);
    CHECK_FALSE(decoded.topic.max_record_size.has_value());

    control::CreateRequest bare;
    bare.name = "t";
    CHECK(control::decode_request(control::encode_request(bare)) == bare);
}

TEST_CASE("replies survive encoding, and a refusal keeps its code and one-line message") {
    control::Reply ok;
    ok.ok = true;
    ok.created = true;
    CHECK(control::decode_reply(control::encode_reply(ok)) == ok);
    control::Reply refused;
    refused.code = shmbus::ErrorCode::kNoSpace;
    refused.message = "no space\nfor this";
    const control::Reply decoded = control::decode_reply(control::encode_reply(refused));
    CHECK_FALSE(decoded.ok);
    CHECK(decoded.code == shmbus::ErrorCode::kNoSpace);
    CHECK(decoded.message == "no space for this");
}

TEST_CASE("malformed requests are refused with a message naming the problem") {
    const std::string head = "shmbus-control 1\nop=create\nname=t\n";
    CHECK(contains(refusal_of("shmbus-control 2\nop=create\nname=t\n"), "different version"));
    CHECK(contains(refusal_of(head + "capacity=12x\n"), "not a decimal number"));
    CHECK(contains(refusal_of(head + "capacity=-1\n"), "not a decimal number"));
    CHECK(contains(refusal_of(head + "max_publishers=4294967296\n"), "up to 4294967295"));
    CHECK(contains(refusal_of(head + "capacity=1\ncapacity=2\n"), "appears twice"));
    CHECK(contains(refusal_of(head + "colour=blue\n"), "unknown key 'colour'"));
    CHECK(contains(refusal_of(head + "policy=lossy\n"), "not block or overwrite"));
    CHECK(contains(refusal_of(head + "timestamps=yes\n"), "not 0 or 1"));
    CHECK(contains(refusal_of(head + "fenced_commits=2\n"), "fenced_commits='2' is not 0 or 1"));
    CHECK(contains(refusal_of(head + "no equals sign\n"), "is not key=value"));
    CHECK(contains(refusal_of("shmbus-control 1\nop=delete\nname=t\n"), "unknown op 'delete'"));
    CHECK(contains(refusal_of("shmbus-control 1\nop=create\n"), "no name="));
    CHECK(contains(refusal_of(head + std::string(5000, 'x')), "more than the limit"));
    CHECK(contains(refusal_of(std::string("shmbus-control 1\nop=cr\0eate\n", 28)), "NUL"));
    CHECK(contains(refusal_of(head + "\x01\xff=1\n"), "\\x01\\xff"));
}

TEST_CASE("a reply that is not one is an error, never a success") {
    CHECK_THROWS_AS((void)control::decode_reply("shmbus-control 1\nstatus=maybe\n"), shmbus::Error);
    CHECK_THROWS_AS((void)control::decode_reply("shmbus-control 1\nstatus=ok\n"), shmbus::Error);
    CHECK_THROWS_AS(
        (void)control::decode_reply("shmbus-control 1\nstatus=error\ncode=nope\nmessage=x\n"),
        shmbus::Error);
    CHECK_THROWS_AS((void)control::decode_reply(""), shmbus::Error);
}
