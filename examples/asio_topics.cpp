// Several topics and a timer on one Boost.Asio io_context: epoll_topics.cpp's loop, with each
// subscriber's wake descriptor (Subscriber::wake_fd) in a posix::stream_descriptor and
// async_wait(wait_read), and a steady_timer for the counts. Boost's headers only (Debian:
// libboost-dev); link with threads.
//
//   shmbus-asio-topics [--count N] [--seconds S] TOPIC...
//
// Prints every record of every TOPIC as "TOPIC: RECORD" (the oldest still there first), and once
// a second the records per topic so far on stderr. Stops after N records in all (status 0), or
// after S seconds (status 0 without --count, 1 if fewer than N came); else runs until killed.
// Status 1 on an error, 2 for bad arguments.
// The bus directory is $SHMBUS_DIR, else /run/shmbus. A missing topic is asked of shmbusd.
//
// One thread runs the io_context, and each handler calls async_wait in the same breath as the
// arm() that returned false. Asio's epoll reactor watches descriptors edge-triggered, and drops
// a readiness edge that comes while no wait is pending; with one thread the reactor cannot run
// between arm() and async_wait, so an edge from a publisher in between is still the kernel's to
// report, and is not lost. With several threads on the io_context the reactor could take that
// edge while no wait is pending: keep wake descriptors on an io_context that one thread runs.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <shmbus/shmbus.hpp>
#include <system_error>
#include <vector>

#include "topic_tally.hpp"

namespace asio = boost::asio;

namespace {

/// What ends the loop, and with which status.
struct Outcome {
    asio::io_context& io;
    int status = 0;
    void finish(int with) {
        status = with;
        io.stop();
    }
};

/// One topic: its subscriber and, for Asio, its wake descriptor.
class TopicReader {
  public:
    TopicReader(asio::io_context& io, const std::string& name, std::size_t index,
                example::Tally& tally, Outcome& outcome)
        : subscriber_(example::subscribe(name)),
          // Asio closes the descriptor it holds, and the subscriber closes its own: Asio gets a
          // duplicate (the same FIFO, read and drained through either).
          wake_(io, duplicate(subscriber_.wake_fd())),
          name_(name),
          index_(index),
          tally_(tally),
          outcome_(outcome) {}

    /// Reads what is there already (a wake descriptor says "look" only for what comes after
    /// arm()), then waits for the descriptor.
    void start() { on_wake({}); }

  private:
    static int duplicate(int fd) {
        const int copy = ::dup(fd);
        if (copy < 0) throw std::system_error(errno, std::generic_category(), "dup");
        return copy;
    }

    void on_wake(const boost::system::error_code& error) {
        if (error == asio::error::operation_aborted) return;
        if (error) {
            std::fprintf(stderr, "waiting on %s: %s\n", name_.c_str(), error.message().c_str());
            outcome_.finish(1);
            return;
        }
        const shmbus::Status status = example::read_until_armed(subscriber_, index_, tally_);
        if (status != shmbus::Status::kOk) {
            std::fprintf(stderr, "%s: %s\n", name_.c_str(), shmbus::to_string(status).data());
            outcome_.finish(1);
            return;
        }
        if (tally_.full()) {
            outcome_.finish(0);
            return;
        }
        // Armed: the descriptor becomes readable at the next record. No need to read it here:
        // the next arm() drains it.
        wake_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& e) { on_wake(e); });
    }

    shmbus::Subscriber subscriber_;
    asio::posix::stream_descriptor wake_;
    std::string name_;
    std::size_t index_;
    example::Tally& tally_;
    Outcome& outcome_;
};

/// The per-topic counts on stderr, once a second.
void print_every_second(asio::steady_timer& timer, const example::Tally& tally) {
    timer.expires_after(std::chrono::seconds(1));
    timer.async_wait([&timer, &tally](const boost::system::error_code& error) {
        if (error) return;
        tally.print_counts();
        print_every_second(timer, tally);
    });
}

int run(const example::LoopOptions& options) {
    asio::io_context io(1);  // one thread: see the note at the top
    Outcome outcome{io};
    example::Tally tally(options);
    // Readers stay where they are: their handlers hold `this`.
    std::vector<std::unique_ptr<TopicReader>> readers;
    for (std::size_t i = 0; i < options.topics.size(); ++i) {
        readers.push_back(std::make_unique<TopicReader>(io, options.topics[i], i, tally, outcome));
    }

    asio::steady_timer counts(io);
    print_every_second(counts, tally);
    asio::steady_timer deadline(io);
    if (options.seconds.count() > 0) {
        deadline.expires_after(options.seconds);
        deadline.async_wait([&](const boost::system::error_code& error) {
            if (!error) outcome.finish(tally.status_at_deadline());
        });
    }
    asio::post(io, [&] {
        for (const auto& reader : readers) {
            reader->start();
        }
        // Every subscriber is armed: a record published from now on wakes the loop.
        if (!io.stopped()) std::fprintf(stderr, "waiting on %zu topics\n", readers.size());
    });
    io.run();
    return outcome.status;
}

}  // namespace

int main(int argc, char** argv) {
    const auto options = example::parse_options(argc, argv);
    if (!options) return 2;
    try {
        return run(*options);
    } catch (const std::exception& error) {  // shmbus::Error, and Asio's system_error
        std::fprintf(stderr, "%s: %s\n", argv[0], error.what());
        return 1;
    }
}
