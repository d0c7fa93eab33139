// The orchestrator (see orchestrator.hpp and the design in soak_main.cpp).
#include "orchestrator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <shmbus/shmbus.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "checker.hpp"
#include "soak_files.hpp"
#include "soak_record.hpp"
#include "soak_run.hpp"
#include "support/program_launch.hpp"

namespace shmbus::soak {
namespace {

constexpr std::int64_t kMs = 1'000'000;

// The daemon's supervision settings. The stall bound's default (3 s) is the unblock timeout,
// plus a check interval for the daemon to look, plus room for a shared, loaded machine.
constexpr const char* kCheckInterval = "100ms";
constexpr const char* kUnblockTimeout = "1s";
constexpr const char* kEvictAfter = "500ms";

std::vector<TopicSpec> default_topics() {
    return {
        {.name = "block-wait", .block = true, .evict = false, .publishers = 2, .subscribers = 2},
        {.name = "block-evict", .block = true, .evict = true, .publishers = 1, .subscribers = 1},
        {.name = "overwrite", .block = false, .evict = false, .publishers = 2, .subscribers = 1},
    };
}

std::string daemon_config(const std::vector<TopicSpec>& topics) {
    std::ostringstream text;
    text << "[supervision]\ncheck_interval = \"" << kCheckInterval << "\"\nunblock_timeout = \""
         << kUnblockTimeout << "\"\n\n[defaults]\ncapacity = \"16KiB\"\nmax_record_size = 512\n"
         << "max_publishers = 8\nmax_subscribers = 8\n";
    for (const TopicSpec& topic : topics) {
        text << "\n[topics." << topic.name << "]\npolicy = \""
             << (topic.block ? "block" : "overwrite") << "\"\n";
        if (topic.evict)
            text << "slow_subscriber = \"evict\"\nevict_after = \"" << kEvictAfter << "\"\n";
    }
    return text.str();
}

std::string tail_of(const std::filesystem::path& path, std::size_t bytes = 600) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    return all.size() <= bytes ? all : "..." + all.substr(all.size() - bytes);
}

std::string describe_status(int raw) {
    if (WIFEXITED(raw)) return "exit status " + std::to_string(WEXITSTATUS(raw));
    if (WIFSIGNALED(raw)) return std::string("signal ") + ::strsignal(WTERMSIG(raw));
    return "status " + std::to_string(raw);
}

// Starts `argv` with stdout and stderr in `out` (or the orchestrator's own, if `out` cannot be
// opened), dying with the orchestrator, with SHMBUS_FAULT set to `fault` or, if that is empty,
// unset. `block_term`: start with SIGTERM blocked (the roles unblock it once their handler is
// installed).
pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& out,
            const std::string& fault, bool block_term) {
    test::ProgramLaunch launch;
    launch.argv = argv;
    if (fault.empty()) {
        launch.unset_environment = {"SHMBUS_FAULT"};
    } else {
        launch.environment = {"SHMBUS_FAULT=" + fault};
    }
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    launch.stdout_fd = fd;
    launch.stderr_fd = fd;
    sigset_t mask;
    sigemptyset(&mask);
    if (block_term) sigaddset(&mask, SIGTERM);
    launch.signal_mask = mask;
    const pid_t pid = test::start_program(launch);
    const int error = errno;
    if (fd >= 0) ::close(fd);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(error));
    return pid;
}

// What the orchestrator tracks of a seat while the run goes on.
struct Live {
    pid_t pid = -1;
    bool kill_sent = false;
    bool term_sent = false;
    bool stopped = false;
    std::int64_t cont_at = 0;
    std::int64_t restart_at = 0;  // 0: no restart pending
    std::uint64_t resume_position = kNone;
    std::uint64_t resume_sequence = kNone;
};

class Orchestrator {
  public:
    Orchestrator(const SoakOptions& options, std::filesystem::path self, std::filesystem::path dir)
        : options_(options), self_(std::move(self)), dir_(std::move(dir)), random_(options.seed) {
        run_.seed = options.seed;
        run_.stall_bound_s = options.stall_bound_s;
        run_.logs = dir_ / "logs";
        run_.topics = default_topics();
        bus_ = dir_ / "bus";
        config_ = dir_ / "shmbusd.toml";
        std::filesystem::create_directories(bus_);
        std::filesystem::create_directories(run_.logs);
        std::ofstream(config_) << daemon_config(run_.topics);

        run_.seats.push_back(
            Seat{.kind = RoleKind::kDaemon, .id = 0, .topic = -1, .incarnations = {}, .stops = {}});
        std::uint32_t publishers = 0;
        std::uint32_t subscribers = 0;
        for (int t = 0; t < static_cast<int>(run_.topics.size()); ++t) {
            for (int i = 0; i < run_.topics[t].subscribers; ++i) {
                run_.seats.push_back(Seat{.kind = RoleKind::kSubscriber,
                                          .id = subscribers++,
                                          .topic = t,
                                          .incarnations = {},
                                          .stops = {}});
            }
            for (int i = 0; i < run_.topics[t].publishers; ++i) {
                run_.seats.push_back(Seat{.kind = RoleKind::kPublisher,
                                          .id = publishers++,
                                          .topic = t,
                                          .incarnations = {},
                                          .stops = {}});
            }
        }
        live_.resize(run_.seats.size());
    }

    int run() {
        std::printf("shmbus soak: seed %llu, %.0f s, run directory %s\n",
                    static_cast<unsigned long long>(options_.seed), options_.duration_s,
                    dir_.c_str());
        std::fflush(stdout);
        start(0);
        if (!wait_for_topics()) {
            std::fprintf(
                stderr,
                "shmbus-soak: shmbusd did not create the topics within 30 s; its log:\n%s\n",
                tail_of(output_log(run_.logs, RoleKind::kDaemon, 0, 0), 4000).c_str());
            return 2;
        }
        // Subscribers first, so that they see the publishers' first records.
        for (std::size_t s = 0; s < run_.seats.size(); ++s) {
            if (run_.seats[s].kind == RoleKind::kSubscriber) start(s);
        }
        for (std::size_t s = 0; s < run_.seats.size(); ++s) {
            if (run_.seats[s].kind == RoleKind::kPublisher) start(s);
        }
        const std::int64_t began = monotonic_ns();
        const std::int64_t end = began + static_cast<std::int64_t>(options_.duration_s * 1e9);
        std::int64_t next_event = began + next_event_gap();
        while (monotonic_ns() < end) {
            reap();
            const std::int64_t now = monotonic_ns();
            for (std::size_t s = 0; s < live_.size(); ++s) {
                Live& live = live_[s];
                if (live.pid < 0 && live.restart_at != 0 && now >= live.restart_at) start(s);
                if (live.stopped && now >= live.cont_at) resume(s);
            }
            if (now >= next_event) {
                chaos_event();
                next_event = now + next_event_gap();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the loop's tick
        }
        run_.duration_s = static_cast<double>(monotonic_ns() - began) / 1e9;
        wind_down();
        const CheckResult result = check_run(run_);
        print_figures(run_, counts_, result);
        const bool passed = result.violations.empty() && run_.violations.empty();
        if (passed && !options_.keep) {
            std::error_code ignored;
            std::filesystem::remove_all(dir_, ignored);
        } else {
            std::printf("run directory kept: %s\n", dir_.c_str());
        }
        return passed ? 0 : 1;
    }

  private:
    std::int64_t next_event_gap() {
        std::uniform_real_distribution<double> factor(0.2, 1.8);
        return static_cast<std::int64_t>(options_.event_interval_s * factor(random_) * 1e9);
    }

    std::int64_t random_ms(int low, int high) {
        return std::uniform_int_distribution<int>(low, high)(random_) * kMs;
    }

    bool chance(double probability) {
        return std::uniform_real_distribution<double>(0, 1)(random_) < probability;
    }

    bool wait_for_topics() {
        const std::int64_t deadline = monotonic_ns() + 30'000 * kMs;
        while (monotonic_ns() < deadline) {
            reap();
            if (live_[0].pid < 0) return false;
            const std::vector<std::string> names = list_topics(bus_);
            bool all = true;
            for (const TopicSpec& topic : run_.topics) {
                all = all && std::find(names.begin(), names.end(), topic.name) != names.end();
            }
            if (all) {
                try {
                    for (const TopicSpec& topic : run_.topics) {
                        (void)Topic::open(bus_, topic.name, {.access = Access::kSubscribe});
                    }
                    return true;
                } catch (const Error&) {
                    // Still being initialised.
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing the polling
        }
        return false;
    }

    std::string choose_fault(RoleKind kind) {
        if (kind == RoleKind::kPublisher && chance(options_.fault_probability)) {
            static constexpr std::array<const char*, 4> points = {"after_claim", "after_header",
                                                                  "mid_payload", "before_commit"};
            const auto point =
                std::uniform_int_distribution<std::size_t>(0, points.size() - 1)(random_);
            const int hit = std::uniform_int_distribution<int>(1, 3000)(random_);
            return std::string(points[point]) + ":kill:" + std::to_string(hit);
        }
        if (kind == RoleKind::kSubscriber && chance(options_.fault_probability / 2)) {
            const int hit = std::uniform_int_distribution<int>(1, 1000)(random_);
            return "mid_advance:kill:" + std::to_string(hit);
        }
        return {};
    }

    void start(std::size_t s) {
        Seat& seat = run_.seats[s];
        Live& live = live_[s];
        const auto number = static_cast<std::uint32_t>(seat.incarnations.size());
        Incarnation incarnation;
        incarnation.number = number;
        std::vector<std::string> argv;
        const std::string seed = std::to_string(options_.seed);
        if (seat.kind == RoleKind::kDaemon) {
            argv = {options_.shmbusd.string(), "--dir", bus_.string(), "--config",
                    config_.string()};
        } else {
            incarnation.fault = choose_fault(seat.kind);
            const TopicSpec& topic = run_.topics[static_cast<std::size_t>(seat.topic)];
            const bool publisher = seat.kind == RoleKind::kPublisher;
            argv = {self_.string(),  publisher ? "publisher" : "subscriber",
                    "--bus",         bus_.string(),
                    "--topic",       topic.name,
                    "--id",          std::to_string(seat.id),
                    "--incarnation", std::to_string(number),
                    "--seed",        seed};
            if (publisher) {
                argv.insert(argv.end(),
                            {"--rate", std::to_string(options_.publisher_rate), "--log",
                             publisher_log(run_.logs, seat.id, number).string(), "--page",
                             publisher_page(run_.logs, seat.id, number).string()});
            } else {
                argv.insert(argv.end(),
                            {"--log", subscriber_log(run_.logs, seat.id, number).string()});
                if (live.resume_position != kNone) {
                    argv.insert(argv.end(), {"--resume", std::to_string(live.resume_position)});
                    if (live.resume_sequence != kNone) {
                        argv.insert(argv.end(),
                                    {"--next-sequence", std::to_string(live.resume_sequence)});
                    }
                }
            }
        }
        incarnation.started_ns = monotonic_ns();
        incarnation.pid = spawn(argv, output_log(run_.logs, seat.kind, seat.id, number),
                                incarnation.fault, seat.kind != RoleKind::kDaemon);
        seat.incarnations.push_back(incarnation);
        live.pid = incarnation.pid;
        live.kill_sent = false;
        live.term_sent = false;
        live.stopped = false;
        live.restart_at = 0;
    }

    void resume(std::size_t s) {
        Live& live = live_[s];
        if (!live.stopped) return;
        ::kill(live.pid, SIGCONT);
        live.stopped = false;
        run_.seats[s].stops.back().to = monotonic_ns();
    }

    void chaos_event() {
        const bool kill = chance(0.6);
        const double kind_draw = std::uniform_real_distribution<double>(0, 1)(random_);
        const RoleKind kind = kind_draw < 0.4   ? RoleKind::kPublisher
                              : kind_draw < 0.8 ? RoleKind::kSubscriber
                                                : RoleKind::kDaemon;
        std::vector<std::size_t> candidates;
        for (std::size_t s = 0; s < live_.size(); ++s) {
            const Live& live = live_[s];
            if (run_.seats[s].kind != kind || live.pid < 0 || live.kill_sent) continue;
            if (!kill && live.stopped) continue;
            candidates.push_back(s);
        }
        if (candidates.empty()) return;
        const std::size_t s = candidates[std::uniform_int_distribution<std::size_t>(
            0, candidates.size() - 1)(random_)];
        Live& live = live_[s];
        const auto k = static_cast<std::size_t>(kind);
        if (kill) {
            ::kill(live.pid, SIGKILL);
            live.kill_sent = true;
            ++counts_.kills[k];
        } else {
            ::kill(live.pid, SIGSTOP);
            live.stopped = true;
            live.cont_at = monotonic_ns() + random_ms(20, 800);
            run_.seats[s].stops.push_back({monotonic_ns(), 0});
            ++counts_.stops[k];
        }
    }

    // The resume point a subscriber's next incarnation starts from: the last batch its log
    // holds, else where the incarnation started, else the previous resume point.
    void update_resume(std::size_t s) {
        const Seat& seat = run_.seats[s];
        bool torn = false;
        const auto entries = read_log<SubscriberLogEntry>(
            subscriber_log(run_.logs, seat.id, seat.incarnations.back().number), torn);
        for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
            if (it->kind == SubscriberEntryKind::kBatch ||
                it->kind == SubscriberEntryKind::kStart) {
                live_[s].resume_position = it->v[0];
                live_[s].resume_sequence = it->v[1];
                return;
            }
        }
    }

    void reap() {
        for (;;) {
            int raw = 0;
            const pid_t pid = ::waitpid(-1, &raw, WNOHANG);
            if (pid <= 0) return;
            for (std::size_t s = 0; s < live_.size(); ++s) {
                if (live_[s].pid == pid) ended(s, raw);
            }
        }
    }

    void ended(std::size_t s, int raw) {
        Seat& seat = run_.seats[s];
        Live& live = live_[s];
        Incarnation& incarnation = seat.incarnations.back();
        const std::int64_t now = monotonic_ns();
        incarnation.ended_ns = now;
        incarnation.raw_status = raw;
        const bool sigkill = WIFSIGNALED(raw) && WTERMSIG(raw) == SIGKILL;
        const bool exited = WIFEXITED(raw);
        const auto k = static_cast<std::size_t>(seat.kind);
        if (live.kill_sent && sigkill) {
            incarnation.ending = Ending::kKilled;
        } else if (sigkill && !incarnation.fault.empty()) {
            incarnation.ending = Ending::kFaultPoint;
            ++counts_.fault_deaths[k];
        } else if (exited && WEXITSTATUS(raw) == 9 && seat.kind == RoleKind::kSubscriber &&
                   run_.topics[static_cast<std::size_t>(seat.topic)].evict) {
            incarnation.ending = Ending::kEvicted;
            ++counts_.evictions;
        } else if (exited && WEXITSTATUS(raw) == 0 && live.term_sent) {
            incarnation.ending = Ending::kCleanExit;
        } else {
            incarnation.ending = Ending::kUnexpected;
            run_.violations.push_back(
                std::string(to_string(seat.kind)) + " " + std::to_string(seat.id) +
                " incarnation " + std::to_string(incarnation.number) + " ended with " +
                describe_status(raw) + "; its output:\n" +
                tail_of(output_log(run_.logs, seat.kind, seat.id, incarnation.number)));
        }
        if (live.stopped) {
            seat.stops.back().to = now;
            live.stopped = false;
        }
        live.pid = -1;
        if (seat.kind == RoleKind::kSubscriber) update_resume(s);
        if (!winding_down_) {
            live.restart_at =
                now + (seat.kind == RoleKind::kDaemon ? random_ms(50, 500) : random_ms(20, 200));
        }
    }

    // Waits until every seat in `seats` has ended, up to `timeout_ms`; true if they all did.
    bool wait_for_end(const std::vector<std::size_t>& seats, std::int64_t timeout_ms) {
        const std::int64_t deadline = monotonic_ns() + timeout_ms * kMs;
        for (;;) {
            reap();
            const bool all = std::all_of(seats.begin(), seats.end(),
                                         [&](std::size_t s) { return live_[s].pid < 0; });
            if (all) return true;
            if (monotonic_ns() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pacing the polling
        }
    }

    void give_up_on(const std::vector<std::size_t>& seats, const std::string& what) {
        for (const std::size_t s : seats) {
            if (live_[s].pid < 0) continue;
            const Seat& seat = run_.seats[s];
            run_.violations.push_back(std::string(to_string(seat.kind)) + " " +
                                      std::to_string(seat.id) + " " + what + "; its output:\n" +
                                      tail_of(output_log(run_.logs, seat.kind, seat.id,
                                                         seat.incarnations.back().number)));
            ::kill(live_[s].pid, SIGKILL);
            live_[s].kill_sent = true;
        }
        wait_for_end(seats, 5000);
    }

    void terminate(std::size_t s) {
        if (live_[s].pid < 0) return;
        live_[s].term_sent = true;
        ::kill(live_[s].pid, SIGTERM);
    }

    // The end of the run: everything continues, the daemon runs (it alone repairs a claim that
    // a publisher killed at the very end left behind), publishers stop, subscribers drain to
    // the tail, the daemon stops.
    void wind_down() {
        winding_down_ = true;
        reap();
        std::vector<std::size_t> publishers;
        std::vector<std::size_t> subscribers;
        for (std::size_t s = 0; s < live_.size(); ++s) {
            resume(s);
            live_[s].restart_at = 0;
            const RoleKind kind = run_.seats[s].kind;
            if (kind == RoleKind::kPublisher) publishers.push_back(s);
            if (kind == RoleKind::kSubscriber) subscribers.push_back(s);
            if (kind != RoleKind::kPublisher && live_[s].pid < 0) start(s);
        }
        const auto daemon_out = [&] {
            return output_log(run_.logs, RoleKind::kDaemon, 0,
                              run_.seats[0].incarnations.back().number);
        };
        const std::int64_t ready_deadline = monotonic_ns() + 20'000 * kMs;
        while (tail_of(daemon_out(), 1 << 20).find("ready:") == std::string::npos) {
            reap();
            if (live_[0].pid < 0 || monotonic_ns() > ready_deadline) {
                run_.violations.push_back("the final shmbusd did not become ready; its output:\n" +
                                          tail_of(daemon_out()));
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // pacing the polling
        }

        for (const std::size_t s : publishers)
            terminate(s);
        if (!wait_for_end(publishers, 10'000)) {
            give_up_on(publishers, "did not stop within 10 s of SIGTERM (stuck)");
        }

        // A subscriber evicted just before the end is started again to drain.
        const std::int64_t drain_deadline = monotonic_ns() + 30'000 * kMs;
        for (const std::size_t s : subscribers)
            terminate(s);
        for (;;) {
            reap();
            bool running = false;
            for (const std::size_t s : subscribers) {
                const Seat& seat = run_.seats[s];
                if (live_[s].pid >= 0) {
                    running = true;
                } else if (seat.incarnations.back().ending == Ending::kEvicted) {
                    start(s);
                    terminate(s);
                    running = true;
                }
            }
            if (!running) break;
            if (monotonic_ns() > drain_deadline) {
                give_up_on(subscribers, "did not drain within 30 s of SIGTERM (stuck)");
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pacing the polling
        }
        terminate(0);
        if (!wait_for_end({0}, 10'000)) give_up_on({0}, "did not stop within 10 s of SIGTERM");
    }

    SoakOptions options_;
    std::filesystem::path self_;
    std::filesystem::path dir_;
    std::filesystem::path bus_;
    std::filesystem::path config_;
    std::mt19937_64 random_;
    RunRecord run_;
    std::vector<Live> live_;
    ChaosCounts counts_;
    bool winding_down_ = false;
};

std::filesystem::path make_run_directory() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/shmbus-soak-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    return pattern;
}

}  // namespace

int run_soak(const SoakOptions& options, const std::filesystem::path& self) {
    std::filesystem::path dir = options.directory;
    if (dir.empty()) {
        dir = make_run_directory();
    } else {
        std::error_code error;
        if (std::filesystem::exists(dir) && !std::filesystem::is_empty(dir, error)) {
            std::fprintf(stderr, "shmbus-soak: the run directory %s is not empty\n", dir.c_str());
            return 2;
        }
    }
    Orchestrator orchestrator(options, self, dir);
    return orchestrator.run();
}

}  // namespace shmbus::soak
