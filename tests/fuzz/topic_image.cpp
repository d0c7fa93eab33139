#include "topic_image.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <shmbus/detail/format/geometry.hpp>
#include <shmbus/detail/format/publisher_slot.hpp>
#include <shmbus/detail/format/records_header.hpp>
#include <shmbus/detail/format/state_layout.hpp>
#include <string>
#include <system_error>

namespace shmbus::fuzz {
namespace {

std::span<const std::uint8_t> take(std::span<const std::uint8_t>& bytes, std::size_t count) {
    const std::size_t n = std::min(count, bytes.size());
    const auto part = bytes.first(n);
    bytes = bytes.subspan(n);
    return part;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

/// A file opened for rewriting, closed on scope exit.
class File {
  public:
    explicit File(const std::filesystem::path& path)
        : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)), path_(path) {
        if (fd_ < 0) fail("opening " + path_.string());
        if (::ftruncate(fd_, 0) != 0) {
            const int error = errno;
            ::close(fd_);
            errno = error;
            fail("emptying " + path_.string());
        }
    }
    ~File() { ::close(fd_); }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    void write(std::uint64_t offset, std::span<const std::uint8_t> bytes) const {
        while (!bytes.empty()) {
            const ssize_t wrote =
                ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
            if (wrote < 0) {
                if (errno == EINTR) continue;
                fail("writing " + path_.string());
            }
            bytes = bytes.subspan(static_cast<std::size_t>(wrote));
            offset += static_cast<std::uint64_t>(wrote);
        }
    }
    void resize(std::uint64_t size) const {
        if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("sizing " + path_.string());
    }

  private:
    int fd_;
    std::filesystem::path path_;
};

std::uint64_t adjusted(std::uint64_t size, std::int16_t delta) {
    if (delta < 0 && static_cast<std::uint64_t>(-std::int64_t{delta}) > size) return 0;
    return size + static_cast<std::uint64_t>(std::int64_t{delta});
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("opening " + path.string());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        fail("stat " + path.string());
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
    const ssize_t got = ::pread(fd, bytes.data(), bytes.size(), 0);
    ::close(fd);
    if (got != st.st_size) fail("reading " + path.string());
    return bytes;
}

void append(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& file,
            std::uint64_t offset, std::uint64_t count) {
    if (offset + count > file.size()) {
        throw std::runtime_error("encode_topic_image: file shorter than its layout");
    }
    out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(offset),
               file.begin() + static_cast<std::ptrdiff_t>(offset + count));
}

}  // namespace

TopicImage parse_topic_image(std::span<const std::uint8_t> bytes) noexcept {
    TopicImage image;
    const auto choices = take(bytes, kChoicesBytes);
    std::memcpy(&image.choices, choices.data(), choices.size());
    image.records_header = take(bytes, kRecordsHeaderBytes);
    image.state_header = take(bytes, kStateHeaderBytes);
    image.body = bytes;
    return image;
}

WrittenTopic write_topic_image(const TopicImage& image, const std::filesystem::path& topic_dir) {
    format::RecordsHeader records{};
    std::memcpy(&records, image.records_header.data(), image.records_header.size());
    const format::TopicParameters parameters = format::parameters_of(records);

    WrittenTopic written;
    written.capacity = parameters.capacity;
    written.parameters_valid = !format::check_parameters(parameters).has_value();

    std::filesystem::create_directories(topic_dir);
    const File records_file(topic_dir / "records");
    const File state_file(topic_dir / "state");
    const File locks_file(topic_dir / "locks");  // empty: only its lock bytes are used
    records_file.write(0, image.records_header);
    state_file.write(0, image.state_header);

    std::span<const std::uint8_t> body = image.body;
    if (!written.parameters_valid) {
        records_file.write(format::kHeaderSize, body);
        records_file.resize(
            adjusted(format::kHeaderSize + body.size(), image.choices.records_delta));
        state_file.resize(adjusted(format::kHeaderSize, image.choices.state_delta));
        return written;
    }

    const format::Geometry g = format::compute_geometry(parameters);
    records_file.write(g.ring_offset, take(body, parameters.capacity));
    records_file.write(
        g.publisher_slots_offset,
        take(body, std::uint64_t{parameters.max_publishers} * sizeof(format::PublisherSlot)));
    state_file.write(
        g.subscriber_slots_offset,
        take(body, std::uint64_t{parameters.max_subscribers} * sizeof(format::SubscriberSlot)));
    state_file.write(g.publisher_waits_offset, take(body, std::uint64_t{parameters.max_publishers} *
                                                              sizeof(format::PublisherWait)));
    records_file.resize(adjusted(g.records_file_size, image.choices.records_delta));
    state_file.resize(adjusted(g.state_file_size, image.choices.state_delta));
    return written;
}

std::vector<std::uint8_t> encode_topic_image(const std::filesystem::path& topic_dir,
                                             const DriverChoices& choices) {
    const std::vector<std::uint8_t> records = read_file(topic_dir / "records");
    const std::vector<std::uint8_t> state = read_file(topic_dir / "state");
    if (records.size() < format::kHeaderSize || state.size() < format::kHeaderSize) {
        throw std::runtime_error("encode_topic_image: a file is shorter than its header");
    }
    format::RecordsHeader header{};
    std::memcpy(&header, records.data(), sizeof header);
    const format::TopicParameters parameters = format::parameters_of(header);
    if (auto problem = format::check_parameters(parameters)) {
        throw std::runtime_error("encode_topic_image: " + *problem);
    }
    const format::Geometry g = format::compute_geometry(parameters);

    std::vector<std::uint8_t> image(kChoicesBytes);
    std::memcpy(image.data(), &choices, sizeof choices);
    append(image, records, 0, kRecordsHeaderBytes);
    append(image, state, 0, kStateHeaderBytes);
    append(image, records, g.ring_offset, parameters.capacity);
    append(image, records, g.publisher_slots_offset,
           std::uint64_t{parameters.max_publishers} * sizeof(format::PublisherSlot));
    append(image, state, g.subscriber_slots_offset,
           std::uint64_t{parameters.max_subscribers} * sizeof(format::SubscriberSlot));
    append(image, state, g.publisher_waits_offset,
           std::uint64_t{parameters.max_publishers} * sizeof(format::PublisherWait));
    while (image.size() > kBodyOffset && image.back() == 0)
        image.pop_back();
    return image;
}

}  // namespace shmbus::fuzz
