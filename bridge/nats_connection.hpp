// The bridge's one connection to NATS, with the reconnect behaviour and the event logging that
// docs/BRIDGE.md describes. libnats reconnects by itself; this class configures it and makes
// each disconnect, reconnect and asynchronous error (a slow consumer above all) a log line.
#pragma once

#include <nats/nats.h>

#include <string>

#include "bridge_config.hpp"

namespace shmbus_bridge {

/// A URL as it may be logged: user and password, if the URL holds any, replaced by "***".
[[nodiscard]] std::string redact_url(const std::string& url);

/// "NATS: what: status text".
[[nodiscard]] std::string nats_error(const std::string& what, natsStatus status);

class NatsConnection {
  public:
    /// Connects, or throws shmbus::Error. A server that cannot be reached yet is not an error:
    /// libnats goes on trying in the background (RetryOnFailedConnect), and subscriptions made
    /// meanwhile are sent once it connects.
    explicit NatsConnection(const NatsSettings& settings);
    ~NatsConnection();
    NatsConnection(const NatsConnection&) = delete;
    NatsConnection& operator=(const NatsConnection&) = delete;

    [[nodiscard]] natsConnection* get() const noexcept { return connection_; }
    [[nodiscard]] bool connected() const noexcept;

    /// Stops all traffic: after it, no callback starts. Idempotent.
    void close() noexcept;

  private:
    natsConnection* connection_ = nullptr;
};

}  // namespace shmbus_bridge
