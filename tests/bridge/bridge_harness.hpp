// What the bridge tests share: a nats-server of their own on a free loopback port, the bridge
// started as a process with a config the test writes, and a libnats connection for the test's
// side of NATS. Every wait is bounded by a deadline; none is a sleep that correctness rests on.
#pragma once

#include <nats/nats.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace shmbus::test::bridge {

/// The nats-server program, or nullopt where it is not installed (the case then skips).
[[nodiscard]] std::optional<std::string> nats_server_program();

/// A nats-server listening on 127.0.0.1 only, killed when the object goes.
class NatsServer {
  public:
    explicit NatsServer(const std::string& program);
    ~NatsServer();
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;

    [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  private:
    pid_t pid_ = -1;
    int port_ = 0;
};

/// A shmbus-bridge process whose stderr goes to a log file the test reads.
class BridgeProcess {
  public:
    /// Writes `config` to a file in `work` and starts the bridge on it.
    BridgeProcess(const std::filesystem::path& work, const std::string& config);
    ~BridgeProcess();
    BridgeProcess(const BridgeProcess&) = delete;
    BridgeProcess& operator=(const BridgeProcess&) = delete;

    /// Waits until the log holds `text`; false at the deadline or if the bridge ended.
    bool wait_for_log(const std::string& text, Clock::time_point deadline);
    /// SIGTERM, then waits; the exit, or nullopt if it did not end by the deadline (then killed).
    std::optional<ChildExit> stop(Clock::time_point deadline);
    /// Waits for the bridge to end by itself (a bad config).
    std::optional<ChildExit> wait(Clock::time_point deadline);
    [[nodiscard]] std::string log() const;

  private:
    pid_t pid_ = -1;
    std::filesystem::path log_path_;
    std::optional<ChildExit> exit_;
};

/// A libnats connection for the test, closed when the object goes.
class NatsClient {
  public:
    explicit NatsClient(const std::string& url);
    ~NatsClient();
    NatsClient(const NatsClient&) = delete;
    NatsClient& operator=(const NatsClient&) = delete;
    [[nodiscard]] natsConnection* get() const noexcept { return connection_; }

  private:
    natsConnection* connection_ = nullptr;
};

/// A synchronous subscription, flushed so that the server has it when the constructor returns.
class SyncSubscription {
  public:
    SyncSubscription(NatsClient& client, const std::string& subject);
    ~SyncSubscription();
    SyncSubscription(const SyncSubscription&) = delete;
    SyncSubscription& operator=(const SyncSubscription&) = delete;
    /// The next message, or nullptr at the deadline. The caller destroys it (natsMsg_Destroy).
    [[nodiscard]] natsMsg* next(Clock::time_point deadline);

  private:
    natsSubscription* subscription_ = nullptr;
};

/// A message's header `key`, or "" if it has none.
[[nodiscard]] std::string header(natsMsg* message, const char* key);

/// The bytes of a message as a string.
[[nodiscard]] std::string data(natsMsg* message);

}  // namespace shmbus::test::bridge
