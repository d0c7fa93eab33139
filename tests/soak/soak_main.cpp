// shmbus-soak: the chaos soak. One program, three roles:
//
//   shmbus-soak [run] [--duration S] [--seed N] ...   the orchestrator (default)
//   shmbus-soak publisher ...                          started by the orchestrator
//   shmbus-soak subscriber ...                         started by the orchestrator
//
// THE RUN. A fresh run directory holds the bus, shmbusd's configuration and every log. shmbusd
// (check_interval 100ms, unblock_timeout 1s) creates three topics of 16 KiB, records up to 512
// bytes, so that rings wrap and block topics back-pressure many times a second:
//
//   block-wait    block, slow_subscriber = "wait"    2 publishers, 2 subscribers
//   block-evict   block, slow_subscriber = "evict"   1 publisher,  1 subscriber (evict_after 500ms)
//   overwrite     overwrite                          2 publishers, 1 subscriber
//
// Publishers publish 1000 records/s each in bursts; subscribers sleep in wait() when idle and now
// and then act slow (sleep 10-150 ms). Every 0.05-0.45 s (seeded) the orchestrator picks a
// publisher (40%), subscriber (40%) or the daemon (20%) and kills it with SIGKILL (60%) or stops
// it with SIGSTOP for 20-800 ms (40%; long enough now and then for an eviction). A dead process
// is started again after 20-200 ms (the daemon after 50-500 ms) as a new incarnation. 30% of publisher starts arm a fault point
// (SHMBUS_FAULT=<after_claim|after_header|mid_payload|before_commit>:kill:<1-3000>) so that
// publishers also die between claim and commit, where a random kill rarely lands; 15% of
// subscriber starts arm mid_advance. At the end everything is continued, the daemon runs,
// publishers stop on SIGTERM, subscribers drain to the tail, the daemon stops; then the checker
// reads the logs.
//
// RECORDS (soak_record.hpp) carry (publisher, incarnation, sequence, claim time), filler whose
// length and bytes follow from the first three, and a checksum. A restarted publisher is a new
// incarnation with sequences from 0.
//
// EVIDENCE (soak_files.hpp). A publisher logs (sequence, position) after each commit, and keeps a
// page (a shared file mapping, which survives kill -9) saying which claim it holds. Killed
// between commit and log, the page names the claim: the checker counts it committed if any
// subscriber received it, else voided. Killed between the claim and the page store, the claim's
// position is unknown: an "unplaced" claim, at most one per killed incarnation, which the count
// checks below allow for. A subscriber logs its start (position, next sequence, the tail after
// attaching), then per poll every record (position, topic sequence, what the payload says,
// whether it is intact) and its counters (position, next_sequence, lost, voided, consumed,
// corrupt) in one write(). A restarted subscriber resumes from its last logged position and
// next sequence (StartAt::position(position, next_sequence)); each incarnation is checked on
// its own, from its own start.
//
// INVARIANTS. Per topic:
//   * no two claims share a position; each publisher incarnation logged sequences 0, 1, 2, ...
//     at increasing positions.
// Per subscriber incarnation:
//   * no torn payload: every record received is intact, and is exactly the record a publisher
//     claimed at that position (no phantom, no stale lap);
//   * positions and topic sequence numbers strictly increase; each publisher incarnation's
//     records arrive in order (block: consecutively, with no gap and no duplicate);
//   * exact accounting: lost() + voided() equals the sequence numbers it skipped; and between
//     its first and last record, received + skipped equals the claims publishers placed there
//     (plus at most the unplaced ones): received + reported lost adds up;
//   * block topics: every committed record from its start (or, if the library reported it
//     lapped before it attached, from the tail at attach) to its last position was received: the
//     only gaps are claims whose publisher died before committing them; lost() only counts
//     records below the tail at attach; corrupt() is 0;
//   * no process stuck longer than the stall bound (default 3 s: unblock_timeout 1 s, plus a
//     check interval for the daemon to look, plus room for a shared, loaded machine): for each
//     committed record, from when its publisher began to claim it to its commit; for each
//     record received, from its claim (or the subscriber's start, if later) to its delivery.
//     Time during which the process itself, or a peer that can hold it back, was stopped does
//     not count: a wait is measured from the end of the last such stop. Peers: for publishers,
//     the topic's publishers (a stopped one may hold the oldest claim) and, in block topics, its
//     subscribers; for subscribers, the topic's publishers. Dead peers and the daemon are no
//     excuse: the library must recover from those within the bound.
//   * every process ends as the orchestrator intended (killed, fault point, evicted, or a clean
//     exit after SIGTERM, a subscriber having drained to the tail within 10 s).
//
// FIGURES: records committed, records verified (deliveries checked), lost, voided, kills by
// kind, deaths at fault points, evictions, stops, longest stalls, duration, seed. The seed
// reproduces the chaos schedule (the timing of the processes themselves cannot be replayed).
// Exit status: 0 every invariant held, 1 a violation (the run directory is kept), 2 bad usage.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <random>
#include <string>

#include "orchestrator.hpp"
#include "roles.hpp"

#ifndef SHMBUSD_PATH
#define SHMBUSD_PATH ""
#endif

namespace {

std::filesystem::path self_path(const char* argv0) {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::filesystem::absolute(argv0) : self;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"shmbus-soak: a chaos soak of shmbus and shmbusd (see tests/soak/soak_main.cpp)",
                 "shmbus-soak"};
    app.require_subcommand(0, 1);

    shmbus::soak::SoakOptions soak;
    soak.shmbusd = SHMBUSD_PATH;
    std::string seed_text;
    CLI::App* run = app.add_subcommand("run", "Run the soak (the default)");
    for (CLI::App* where : {static_cast<CLI::App*>(&app), run}) {
        where->add_option("-d,--duration", soak.duration_s, "Seconds of chaos (default 60)")
            ->check(CLI::Range(1.0, 86400.0));
        where->add_option("-s,--seed", seed_text,
                          "Seed of the chaos schedule (default: random, printed)");
        where
            ->add_option("--stall-bound", soak.stall_bound_s,
                         "Longest allowed stall in seconds (default 3)")
            ->check(CLI::Range(0.1, 3600.0));
        where
            ->add_option("--event-interval", soak.event_interval_s,
                         "Mean seconds between chaos events (default 0.25)")
            ->check(CLI::Range(0.01, 60.0));
        where
            ->add_option("--rate", soak.publisher_rate,
                         "Records per second per publisher (default 1000)")
            ->check(CLI::Range(1.0, 1e6));
        where->add_option("--run-dir", soak.directory,
                          "Run directory (default: a fresh one in $TMPDIR)");
        where->add_option("--shmbusd", soak.shmbusd,
                          "The shmbusd to run (default: the one built with this)");
        where->add_flag("--keep", soak.keep,
                        "Keep the run directory even if every invariant holds");
    }

    shmbus::soak::PublisherRoleOptions publisher;
    CLI::App* publisher_app =
        app.add_subcommand("publisher", "Publisher role (started by the soak)");
    publisher_app->add_option("--bus", publisher.bus)->required();
    publisher_app->add_option("--topic", publisher.topic)->required();
    publisher_app->add_option("--id", publisher.id)->required();
    publisher_app->add_option("--incarnation", publisher.incarnation)->required();
    publisher_app->add_option("--seed", publisher.seed);
    publisher_app->add_option("--rate", publisher.rate)->check(CLI::Range(1.0, 1e6));
    publisher_app->add_option("--log", publisher.log)->required();
    publisher_app->add_option("--page", publisher.page)->required();

    shmbus::soak::SubscriberRoleOptions subscriber;
    CLI::App* subscriber_app =
        app.add_subcommand("subscriber", "Subscriber role (started by the soak)");
    subscriber_app->add_option("--bus", subscriber.bus)->required();
    subscriber_app->add_option("--topic", subscriber.topic)->required();
    subscriber_app->add_option("--id", subscriber.id)->required();
    subscriber_app->add_option("--incarnation", subscriber.incarnation)->required();
    subscriber_app->add_option("--seed", subscriber.seed);
    subscriber_app->add_option("--resume", subscriber.resume_position);
    subscriber_app->add_option("--next-sequence", subscriber.resume_sequence);
    subscriber_app->add_option("--log", subscriber.log)->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }
    if (publisher_app->parsed()) return shmbus::soak::run_publisher(publisher);
    if (subscriber_app->parsed()) return shmbus::soak::run_subscriber(subscriber);

    if (seed_text.empty()) {
        soak.seed = std::random_device{}();
    } else {
        try {
            std::size_t used = 0;
            soak.seed = std::stoull(seed_text, &used, 0);
            if (used != seed_text.size()) throw std::invalid_argument(seed_text);
        } catch (const std::exception&) {
            std::fprintf(stderr, "shmbus-soak: --seed '%s' is not a number\n", seed_text.c_str());
            return 2;
        }
    }
    if (soak.shmbusd.empty() || ::access(soak.shmbusd.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "shmbus-soak: no shmbusd to run at '%s' (give --shmbusd PATH)\n",
                     soak.shmbusd.c_str());
        return 2;
    }
    try {
        return shmbus::soak::run_soak(soak, self_path(argv[0]));
    } catch (const std::exception& error) {
        std::fprintf(stderr, "shmbus-soak: %s\n", error.what());
        return 2;
    }
}
