#include "nats_connection.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <shmbus/error.hpp>
#include <vector>

#include "failure_signal.hpp"

namespace shmbus_bridge {
namespace {

// Set by close(): a close that follows is the bridge's own. Not a member: libnats may run the
// closed callback after the connection object is gone.
std::atomic<bool> closing{false};

std::string connected_url(natsConnection* connection) {
    char url[512] = {};
    if (natsConnection_GetConnectedUrl(connection, url, sizeof url) != NATS_OK) return "?";
    return redact_url(url);
}

void on_connected(natsConnection* connection, void*) {
    spdlog::info("NATS: connected to {}", connected_url(connection));
}

void on_disconnected(natsConnection* connection, void*) {
    // Core mode: what is published until the reconnect goes to libnats's reconnect buffer, and
    // what does not fit there is counted as send failed. What the server sent meanwhile is gone.
    spdlog::warn("NATS: disconnected from {}; reconnecting", connected_url(connection));
}

void on_reconnected(natsConnection* connection, void*) {
    spdlog::info("NATS: reconnected to {}", connected_url(connection));
}

void on_closed(natsConnection*, void*) {
    if (closing.load()) {
        spdlog::info("NATS: connection closed");
        return;
    }
    // libnats gave up (every attempt max_reconnect allows failed): a bridge without a
    // connection would only look alive, so it stops and says so.
    spdlog::error("NATS: connection closed for good: every reconnect attempt failed");
    signal_failure();
}

void on_error(natsConnection*, natsSubscription* subscription, natsStatus status, void*) {
    const char* subject =
        subscription != nullptr ? natsSubscription_GetSubject(subscription) : nullptr;
    if (status == NATS_SLOW_CONSUMER) {
        // The bridge did not take messages off this subscription as fast as the server sent
        // them: libnats dropped some. Never silent: each time the server's error surfaces.
        int64_t dropped = 0;
        if (subscription != nullptr) (void)natsSubscription_GetDropped(subscription, &dropped);
        spdlog::error(
            "NATS: slow consumer on subject '{}': messages were dropped before the bridge read "
            "them ({} dropped so far on this subscription)",
            subject != nullptr ? subject : "?", dropped);
        return;
    }
    spdlog::error("NATS: asynchronous error{}{}: {}", subject != nullptr ? " on subject " : "",
                  subject != nullptr ? subject : "", natsStatus_GetText(status));
}

class Options {
  public:
    Options() {
        if (natsOptions_Create(&options_) != NATS_OK)
            throw shmbus::Error(shmbus::ErrorCode::kInvalidArgument, "NATS: cannot create options");
    }
    ~Options() { natsOptions_Destroy(options_); }
    Options(const Options&) = delete;
    Options& operator=(const Options&) = delete;
    natsOptions* get() const noexcept { return options_; }

    void check(natsStatus status, const std::string& what) const {
        if (status != NATS_OK)
            throw shmbus::Error(shmbus::ErrorCode::kInvalidArgument, nats_error(what, status));
    }

  private:
    natsOptions* options_ = nullptr;
};

}  // namespace

std::string redact_url(const std::string& url) {
    const std::size_t scheme = url.find("://");
    const std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
    const std::size_t end = url.find('/', start);
    const std::size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
    if (at == std::string::npos || at < start) return url;
    return url.substr(0, start) + "***" + url.substr(at);
}

std::string nats_error(const std::string& what, natsStatus status) {
    return "NATS: " + what + ": " + natsStatus_GetText(status);
}

NatsConnection::NatsConnection(const NatsSettings& settings) {
    Options options;
    std::vector<const char*> urls;
    for (const std::string& url : settings.urls)
        urls.push_back(url.c_str());
    options.check(natsOptions_SetServers(options.get(), urls.data(), static_cast<int>(urls.size())),
                  "the server URLs");
    options.check(natsOptions_SetName(options.get(), "shmbus-bridge"), "the client name");
    options.check(natsOptions_SetMaxReconnect(options.get(), settings.max_reconnect),
                  "max_reconnect");
    options.check(natsOptions_SetReconnectWait(options.get(), settings.reconnect_wait_ms),
                  "reconnect_wait_ms");
    // Jitter, so that many bridges that lost one server do not all come back in the same
    // millisecond.
    options.check(natsOptions_SetReconnectJitter(options.get(), 100, 1000), "reconnect jitter");
    // With a callback, a first connect that fails returns at once and goes on in the
    // background; without one, libnats would block here for all of max_reconnect.
    options.check(natsOptions_SetRetryOnFailedConnect(options.get(), true, on_connected, nullptr),
                  "retry on failed connect");
    options.check(natsOptions_SetDisconnectedCB(options.get(), on_disconnected, nullptr),
                  "the disconnect callback");
    options.check(natsOptions_SetReconnectedCB(options.get(), on_reconnected, nullptr),
                  "the reconnect callback");
    options.check(natsOptions_SetClosedCB(options.get(), on_closed, nullptr), "the close callback");
    options.check(natsOptions_SetErrorHandler(options.get(), on_error, nullptr),
                  "the error handler");
    // The files' paths go to libnats, which reads them; the messages below name the setting,
    // never what the file holds.
    if (settings.creds_file) {
        options.check(natsOptions_SetUserCredentialsFromFiles(
                          options.get(), settings.creds_file->c_str(), nullptr),
                      "nats.creds_file");
    }
    if (settings.nkey_file) {
        options.check(natsOptions_SetNKeyFromSeed(options.get(), settings.nkey_public.c_str(),
                                                  settings.nkey_file->c_str()),
                      "nats.nkey_file");
    }

    const natsStatus status = natsConnection_Connect(&connection_, options.get());
    if (status == NATS_NOT_YET_CONNECTED) {
        spdlog::warn("NATS: no server reachable yet; retrying in the background");
        return;
    }
    if (status != NATS_OK) {
        std::string servers;
        for (const std::string& url : settings.urls)
            servers += (servers.empty() ? "" : ", ") + redact_url(url);
        throw shmbus::Error(shmbus::ErrorCode::kInvalidArgument,
                            nats_error("cannot connect to " + servers, status));
    }
    spdlog::info("NATS: connected to {}", connected_url(connection_));
}

NatsConnection::~NatsConnection() {
    close();
    natsConnection_Destroy(connection_);
}

bool NatsConnection::connected() const noexcept {
    return connection_ != nullptr &&
           natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

void NatsConnection::close() noexcept {
    closing.store(true);
    if (connection_ != nullptr && !natsConnection_IsClosed(connection_))
        natsConnection_Close(connection_);
}

}  // namespace shmbus_bridge
