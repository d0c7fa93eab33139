#include "logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace shmbusd {
namespace {

/// %* : the syslog priority journald reads from the start of a line.
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& message, const std::tm&,
                spdlog::memory_buf_t& out) override {
        char priority = '6';
        switch (message.level) {
            case spdlog::level::trace:
            case spdlog::level::debug:
                priority = '7';
                break;
            case spdlog::level::info:
                priority = '6';
                break;
            case spdlog::level::warn:
                priority = '4';
                break;
            case spdlog::level::err:
                priority = '3';
                break;
            case spdlog::level::critical:
                priority = '2';
                break;
            default:
                break;
        }
        const char text[3] = {'<', priority, '>'};
        out.append(text, text + 3);
    }
    [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<SyslogPriorityFlag>();
    }
};

}  // namespace

bool stderr_is_journal() noexcept {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    unsigned long long device = 0;
    unsigned long long inode = 0;
    if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == device &&
           static_cast<unsigned long long>(st.st_ino) == inode;
}

void setup_logging(spdlog::level::level_enum level) {
    auto logger = std::make_shared<spdlog::logger>(
        "shmbusd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (stderr_is_journal()) {
        formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
    } else {
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e shmbusd[%P] %l: %v");
    }
    logger->set_formatter(std::move(formatter));
    logger->set_level(level);
    // Each line leaves at once, so journald and anyone reading the log see events as they happen.
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

void set_log_level(spdlog::level::level_enum level) {
    spdlog::set_level(level);
}

}  // namespace shmbusd
