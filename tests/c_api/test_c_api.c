/* The C API, from C: every function of shmbus.h, the errors a caller can provoke, and misuse
 * (NULL handles, handles used after close, a second commit, a payload after commit, a wrong
 * struct_size). Compiled as strict C11; no C++ test framework. Each case makes a bus directory
 * of its own under /tmp and removes it. Exit status: 0 passed, 1 a check failed. */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <poll.h>
#include <shmbus/shmbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- A tiny test harness ------------------------------------------------------------- */

static const char* current_case = "";

#define CHECK(condition)                                                                       \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            fprintf(stderr, "%s:%d: in \"%s\": CHECK(%s) failed (last error: %s)\n", __FILE__, \
                    __LINE__, current_case, #condition, shmbus_last_error_message());          \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* A call that must return `expected` (a shmbus_status). */
#define CHECK_STATUS(call, expected)                                                            \
    do {                                                                                        \
        const int status_ = (call);                                                             \
        if (status_ != (expected)) {                                                            \
            fprintf(stderr,                                                                     \
                    "%s:%d: in \"%s\": %s returned %d (%s), expected %s (last error: %s)\n",    \
                    __FILE__, __LINE__, current_case, #call, status_, shmbus_strerror(status_), \
                    #expected, shmbus_last_error_message());                                    \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, SHMBUS_OK)

static char bus[64];

static int remove_entry(const char* path, const struct stat* info, int type, struct FTW* ftw) {
    (void)info;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Removes the current case's bus directory, also when a failed check exits. */
static void remove_bus(void) {
    if (bus[0] != '\0') {
        const int removed = nftw(bus, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        bus[0] = '\0';
        if (removed != 0) {
            fprintf(stderr, "in \"%s\": could not remove the bus directory\n", current_case);
            _exit(1); /* exit() again from an atexit handler would be undefined */
        }
    }
}

/* Runs one case in a fresh bus directory. */
static void run(const char* name, void (*test)(void)) {
    current_case = name;
    strcpy(bus, "/tmp/shmbus-c-api.XXXXXX");
    CHECK(mkdtemp(bus) != NULL);
    test();
    remove_bus();
    printf("ok: %s\n", name);
}

/* A small block topic: 4 KiB ring, records up to 256 bytes. */
static void create_small(const char* name, int policy) {
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    options.capacity = 4096;
    options.max_record_size = 256;
    options.max_publishers = 2;
    options.max_subscribers = 4;
    options.policy = policy;
    CHECK_OK(shmbus_topic_create(bus, name, &options));
}

static shmbus_topic* open_topic(const char* name) {
    shmbus_topic* topic = NULL;
    CHECK_OK(shmbus_topic_open(bus, name, NULL, &topic));
    CHECK(topic != NULL);
    return topic;
}

static shmbus_subscriber* open_subscriber(shmbus_topic* topic, int start) {
    shmbus_subscriber_options options;
    shmbus_subscriber_options_init(&options);
    options.start = start;
    shmbus_subscriber* subscriber = NULL;
    CHECK_OK(shmbus_subscriber_open(topic, &options, &subscriber));
    CHECK(subscriber != NULL);
    return subscriber;
}

/* What a poll handler saw. */
struct seen {
    size_t count;
    size_t stop_after; /* 0: never stop */
    char last[64];
    uint64_t last_next_position;
    uint64_t last_sequence;
};

static int remember(void* context, const shmbus_record* record) {
    struct seen* seen = context;
    size_t length = record->length < sizeof seen->last - 1 ? record->length : sizeof seen->last - 1;
    memcpy(seen->last, record->payload, length);
    seen->last[length] = '\0';
    seen->last_next_position = record->next_position;
    seen->last_sequence = record->sequence;
    seen->count++;
    return seen->stop_after != 0 && seen->count >= seen->stop_after;
}

static size_t poll_all(shmbus_subscriber* subscriber, struct seen* seen) {
    size_t total = 0;
    size_t records = 0;
    do {
        CHECK_OK(shmbus_subscriber_poll(subscriber, remember, seen, 0, &records));
        total += records;
    } while (records > 0);
    return total;
}

/* ---- The cases ------------------------------------------------------------------------ */

static void version_and_status_text_are_those_of_this_release(void) {
    CHECK(strcmp(shmbus_version(), SHMBUS_VERSION) == 0);
    CHECK(shmbus_format_version() >= 3);
    const int statuses[] = {SHMBUS_OK,
                            SHMBUS_E_BACK_PRESSURED,
                            SHMBUS_E_TIMED_OUT,
                            SHMBUS_E_TOO_LARGE,
                            SHMBUS_E_EVICTED,
                            SHMBUS_E_FORKED,
                            SHMBUS_E_TOPIC_LOST,
                            SHMBUS_E_CORRUPT,
                            SHMBUS_E_CLAIM_PENDING,
                            SHMBUS_E_NO_CLAIM,
                            SHMBUS_E_INVALID_ARGUMENT,
                            SHMBUS_E_CLOSED,
                            SHMBUS_E_NOT_FOUND,
                            SHMBUS_E_EXISTS,
                            SHMBUS_E_PERMISSION,
                            SHMBUS_E_FORMAT,
                            SHMBUS_E_INCOMPATIBLE,
                            SHMBUS_E_NO_SPACE,
                            SHMBUS_E_NO_SLOT,
                            SHMBUS_E_BUSY,
                            SHMBUS_E_SYSTEM,
                            SHMBUS_E_NO_MEMORY,
                            SHMBUS_E_INTERNAL};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; ++i) {
        CHECK(strcmp(shmbus_strerror(statuses[i]), "unknown status") != 0);
    }
    CHECK(strcmp(shmbus_strerror(12345), "unknown status") == 0);
    CHECK(SHMBUS_E_WOULD_BLOCK == SHMBUS_E_BACK_PRESSURED);
}

static void a_topic_is_created_opened_described_and_removed(void) {
    create_small("orders", SHMBUS_POLICY_BLOCK);
    CHECK_STATUS(shmbus_topic_create(bus, "orders", NULL), SHMBUS_E_EXISTS);
    CHECK(strlen(shmbus_last_error_message()) > 0);

    shmbus_topic* topic = open_topic("orders");
    CHECK(strcmp(shmbus_topic_name(topic), "orders") == 0);
    CHECK(strcmp(shmbus_topic_directory(topic), bus) == 0);

    shmbus_topic_stats stats;
    shmbus_topic_stats_init(&stats);
    CHECK_OK(shmbus_topic_stat(topic, &stats));
    CHECK(stats.capacity == 4096);
    CHECK(stats.max_record_size == 256);
    CHECK(stats.max_publishers == 2);
    CHECK(stats.max_subscribers == 4);
    CHECK(stats.policy == SHMBUS_POLICY_BLOCK);
    CHECK(stats.timestamps);
    CHECK(!stats.fenced_commits);
    CHECK(stats.created_ns > 0);
    CHECK(stats.publishers == 0 && stats.subscribers == 0 && stats.published == 0);
    shmbus_topic_close(&topic);

    /* The options the defaults leave off: no timestamps, fenced commits. */
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    CHECK(options.timestamps && !options.fenced_commits);
    options.capacity = 4096;
    options.max_record_size = 256;
    options.timestamps = false;
    options.fenced_commits = true;
    CHECK_OK(shmbus_topic_create(bus, "fenced", &options));
    topic = open_topic("fenced");
    shmbus_topic_stats_init(&stats);
    CHECK_OK(shmbus_topic_stat(topic, &stats));
    CHECK(!stats.timestamps && stats.fenced_commits);
    shmbus_topic_close(&topic);
    CHECK_OK(shmbus_topic_remove(bus, "fenced"));

    topic = open_topic("orders");
    shmbus_topic_close(&topic);
    CHECK(topic == NULL);
    shmbus_topic_close(&topic); /* closing a closed (NULL) handle is nothing to do */
    shmbus_topic_close(NULL);

    CHECK_OK(shmbus_topic_remove(bus, "orders"));
    CHECK_STATUS(shmbus_topic_remove(bus, "orders"), SHMBUS_E_NOT_FOUND);
}

static void opening_a_missing_or_misnamed_topic_says_why(void) {
    shmbus_topic* topic = (shmbus_topic*)&topic; /* garbage that must be overwritten */
    CHECK_STATUS(shmbus_topic_open(bus, "missing", NULL, &topic), SHMBUS_E_NOT_FOUND);
    CHECK(topic == NULL);
    CHECK(strstr(shmbus_last_error_message(), "missing") != NULL);

    CHECK_STATUS(shmbus_topic_create(bus, "../escape", NULL), SHMBUS_E_INVALID_ARGUMENT);
    CHECK_STATUS(shmbus_topic_create(bus, "", NULL), SHMBUS_E_INVALID_ARGUMENT);
    CHECK_STATUS(shmbus_topic_create(bus, NULL, NULL), SHMBUS_E_INVALID_ARGUMENT);
    CHECK_STATUS(shmbus_topic_open(bus, NULL, NULL, &topic), SHMBUS_E_INVALID_ARGUMENT);
    CHECK_STATUS(shmbus_topic_open(bus, "x", NULL, NULL), SHMBUS_E_INVALID_ARGUMENT);
    CHECK_STATUS(shmbus_topic_remove(bus, NULL), SHMBUS_E_INVALID_ARGUMENT);

    /* No daemon supervises this directory: nobody to ask for the missing topic. */
    CHECK_STATUS(shmbus_topic_open_or_create(bus, "missing", NULL, NULL, &topic),
                 SHMBUS_E_NOT_FOUND);
    CHECK(topic == NULL);
    /* An existing topic needs no daemon. */
    create_small("present", SHMBUS_POLICY_BLOCK);
    CHECK_OK(shmbus_topic_open_or_create(bus, "present", NULL, NULL, &topic));
    CHECK(topic != NULL);
    shmbus_topic_close(&topic);

    /* Bad layouts are refused at create. */
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    options.capacity = 5000; /* not a power of two */
    CHECK_STATUS(shmbus_topic_create(bus, "odd", &options), SHMBUS_E_INVALID_ARGUMENT);
    shmbus_topic_options_init(&options);
    options.policy = 7;
    CHECK_STATUS(shmbus_topic_create(bus, "odd", &options), SHMBUS_E_INVALID_ARGUMENT);
    shmbus_open_options open_options;
    shmbus_open_options_init(&open_options);
    open_options.access = 9;
    CHECK_STATUS(shmbus_topic_open(bus, "present", &open_options, &topic),
                 SHMBUS_E_INVALID_ARGUMENT);
}

static void records_offered_are_polled_in_order_with_their_metadata(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));

    char text[32];
    for (int i = 0; i < 10; ++i) {
        snprintf(text, sizeof text, "hello %d", i);
        CHECK_OK(shmbus_publisher_offer(publisher, text, strlen(text), SHMBUS_WAIT_FOREVER));
    }
    CHECK_OK(shmbus_publisher_try_offer(publisher, "", 0)); /* an empty record is a record */

    struct seen seen = {0};
    size_t records = 0;
    CHECK_OK(shmbus_subscriber_poll(subscriber, remember, &seen, 4, &records));
    CHECK(records == 4 && seen.count == 4);
    CHECK(strcmp(seen.last, "hello 3") == 0);
    CHECK(seen.last_sequence == 3);
    CHECK(poll_all(subscriber, &seen) == 7);
    CHECK(seen.count == 11 && strcmp(seen.last, "") == 0);

    shmbus_subscriber_counters counters;
    shmbus_subscriber_counters_init(&counters);
    CHECK_OK(shmbus_subscriber_counters_get(subscriber, &counters));
    CHECK(counters.consumed == 11);
    CHECK(counters.lost == 0 && counters.corrupt == 0 && counters.voided == 0);
    CHECK(counters.next_sequence == 11);
    CHECK(counters.position == seen.last_next_position);

    shmbus_topic_stats stats;
    shmbus_topic_stats_init(&stats);
    CHECK_OK(shmbus_topic_stat(topic, &stats));
    CHECK(stats.publishers == 1 && stats.subscribers == 1);
    CHECK(stats.published == 11 && stats.tail_sequence == 11);

    shmbus_publisher_close(&publisher);
    CHECK(publisher == NULL);
    shmbus_subscriber_close(&subscriber);
    CHECK(subscriber == NULL);
    shmbus_topic_close(&topic);
}

static void a_handler_that_returns_nonzero_stops_the_poll_after_its_record(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    for (int i = 0; i < 5; ++i)
        CHECK_OK(shmbus_publisher_try_offer(publisher, "abc", 3));

    struct seen seen = {0};
    seen.stop_after = 2;
    size_t records = 0;
    CHECK_OK(shmbus_subscriber_poll(subscriber, remember, &seen, 0, &records));
    CHECK(records == 2 && seen.count == 2);
    seen.stop_after = 0;
    CHECK(poll_all(subscriber, &seen) == 3); /* the stopped record is not delivered again */
    CHECK(seen.last_sequence == 4);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void peek_holds_the_record_until_advance(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));

    const shmbus_record* record = NULL;
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, &record), 0);
    CHECK(record == NULL);
    CHECK_OK(shmbus_subscriber_advance(subscriber)); /* nothing peeked: nothing to do */

    CHECK_OK(shmbus_publisher_try_offer(publisher, "first", 5));
    CHECK_OK(shmbus_publisher_try_offer(publisher, "second", 6));
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, &record), 1);
    CHECK(record != NULL && record->length == 5 && memcmp(record->payload, "first", 5) == 0);
    CHECK(record->sequence == 0 && record->timestamp_ns > 0);
    const shmbus_record* again = NULL;
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, &again), 1);
    CHECK(again->sequence == 0); /* the same record until advance */
    CHECK_OK(shmbus_subscriber_advance(subscriber));
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, &record), 1);
    CHECK(record->length == 6 && memcmp(record->payload, "second", 6) == 0);
    CHECK_OK(shmbus_subscriber_advance(subscriber));
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, &record), 0);
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, NULL), SHMBUS_E_INVALID_ARGUMENT);

    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void a_claim_is_written_in_place_and_committed_once(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));

    void* payload = NULL;
    size_t length = 0;
    CHECK_STATUS(shmbus_publisher_claim_payload(publisher, 0, &payload, &length),
                 SHMBUS_E_NO_CLAIM);
    CHECK_OK(shmbus_publisher_try_claim(publisher, 4, &payload));
    CHECK(payload != NULL);
    void* again = NULL;
    CHECK_OK(shmbus_publisher_claim_payload(publisher, 0, &again, &length));
    CHECK(again == payload && length == 4);
    CHECK_STATUS(shmbus_publisher_claim_payload(publisher, 1, &again, &length),
                 SHMBUS_E_INVALID_ARGUMENT);
    /* One claim at a time, and no offer while it is pending. */
    void* second = NULL;
    CHECK_STATUS(shmbus_publisher_try_claim(publisher, 4, &second), SHMBUS_E_CLAIM_PENDING);
    CHECK(second == NULL);
    CHECK_STATUS(shmbus_publisher_try_offer(publisher, "x", 1), SHMBUS_E_CLAIM_PENDING);
    CHECK_STATUS(shmbus_publisher_offer(publisher, "x", 1, 0), SHMBUS_E_CLAIM_PENDING);
    memcpy(payload, "ping", 4);
    CHECK_OK(shmbus_publisher_commit(publisher));
    /* Flushing writes the committed record back to the topic's file (a no-op on a tmpfs). */
    CHECK_OK(shmbus_publisher_flush(publisher));
    /* After commit the payload is not the caller's: no second commit, no payload. */
    CHECK_STATUS(shmbus_publisher_commit(publisher), SHMBUS_E_NO_CLAIM);
    CHECK_STATUS(shmbus_publisher_abort(publisher), SHMBUS_E_NO_CLAIM);
    CHECK_STATUS(shmbus_publisher_claim_payload(publisher, 0, &again, &length), SHMBUS_E_NO_CLAIM);
    CHECK(again == NULL && length == 0);

    /* An aborted claim is skipped by subscribers. */
    CHECK_OK(shmbus_publisher_claim(publisher, 8, SHMBUS_WAIT_FOREVER, &payload));
    memcpy(payload, "abandon!", 8);
    CHECK_OK(shmbus_publisher_abort(publisher));
    CHECK_STATUS(shmbus_publisher_commit(publisher), SHMBUS_E_NO_CLAIM);

    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == 1);
    CHECK(strcmp(seen.last, "ping") == 0);

    /* A claim still pending at close is aborted, never published. */
    CHECK_OK(shmbus_publisher_try_claim(publisher, 4, &payload));
    shmbus_publisher_close(&publisher);
    CHECK(poll_all(subscriber, &seen) == 0);

    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void a_batch_claim_publishes_every_record_with_one_commit(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));

    const uint32_t lengths[3] = {3, 5, 7};
    size_t claimed = 0;
    CHECK_STATUS(shmbus_publisher_try_claim_batch(publisher, lengths, 0, &claimed),
                 SHMBUS_E_INVALID_ARGUMENT);
    CHECK_OK(shmbus_publisher_try_claim_batch(publisher, lengths, 3, &claimed));
    CHECK(claimed == 3);
    CHECK_STATUS(shmbus_publisher_try_claim_batch(publisher, lengths, 3, &claimed),
                 SHMBUS_E_CLAIM_PENDING);
    for (size_t i = 0; i < 3; ++i) {
        void* payload = NULL;
        size_t length = 0;
        CHECK_OK(shmbus_publisher_claim_payload(publisher, i, &payload, &length));
        CHECK(length == lengths[i]);
        memset(payload, 'a' + (int)i, length);
    }
    void* payload = NULL;
    CHECK_STATUS(shmbus_publisher_claim_payload(publisher, 3, &payload, NULL),
                 SHMBUS_E_INVALID_ARGUMENT);
    CHECK_OK(shmbus_publisher_commit(publisher));
    CHECK_STATUS(shmbus_publisher_commit(publisher), SHMBUS_E_NO_CLAIM);
    CHECK_STATUS(shmbus_publisher_claim_payload(publisher, 0, &payload, NULL), SHMBUS_E_NO_CLAIM);

    /* Aborting a batch publishes none of it. */
    CHECK_OK(shmbus_publisher_try_claim_batch(publisher, lengths, 2, &claimed));
    CHECK_OK(shmbus_publisher_abort(publisher));

    /* Copying batches. */
    const shmbus_buffer records[2] = {{"xy", 2}, {"z", 1}};
    size_t published = 0;
    CHECK_OK(shmbus_publisher_try_offer_batch(publisher, records, 2, &published));
    CHECK(published == 2);
    CHECK_OK(shmbus_publisher_offer_batch(publisher, records, 2, SHMBUS_WAIT_FOREVER, &published));
    CHECK(published == 2);
    CHECK_OK(shmbus_publisher_try_offer_batch(publisher, NULL, 0, &published));
    CHECK(published == 0);
    CHECK_STATUS(shmbus_publisher_try_offer_batch(publisher, NULL, 2, &published),
                 SHMBUS_E_INVALID_ARGUMENT);

    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == 7);
    CHECK(strcmp(seen.last, "z") == 0);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void a_record_longer_than_the_topic_allows_is_refused(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    static char big[257];
    CHECK_STATUS(shmbus_publisher_try_offer(publisher, big, sizeof big), SHMBUS_E_TOO_LARGE);
    CHECK_STATUS(shmbus_publisher_offer(publisher, big, sizeof big, 0), SHMBUS_E_TOO_LARGE);
    void* payload = NULL;
    CHECK_STATUS(shmbus_publisher_try_claim(publisher, sizeof big, &payload), SHMBUS_E_TOO_LARGE);
    CHECK(payload == NULL);
    CHECK_OK(shmbus_publisher_try_offer(publisher, big, 256));
    shmbus_publisher_close(&publisher);
    shmbus_topic_close(&topic);
}

static void a_full_block_ring_back_pressures_and_times_out(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    shmbus_publisher_options options;
    shmbus_publisher_options_init(&options);
    options.spin_ns = 1000;
    CHECK_OK(shmbus_publisher_open(topic, &options, &publisher));

    static char record[200];
    int status = SHMBUS_OK;
    int offered = 0;
    while ((status = shmbus_publisher_try_offer(publisher, record, sizeof record)) == SHMBUS_OK) {
        ++offered;
        CHECK(offered < 100); /* a 4 KiB ring holds far fewer */
    }
    CHECK_STATUS(status, SHMBUS_E_BACK_PRESSURED);
    CHECK(offered > 0);
    CHECK_STATUS(shmbus_publisher_offer(publisher, record, sizeof record, 1000000),
                 SHMBUS_E_TIMED_OUT);
    void* payload = NULL;
    CHECK_STATUS(shmbus_publisher_claim(publisher, sizeof record, 1000000, &payload),
                 SHMBUS_E_TIMED_OUT);
    CHECK_STATUS(shmbus_publisher_try_claim(publisher, sizeof record, &payload),
                 SHMBUS_E_WOULD_BLOCK);
    const uint32_t lengths[1] = {200};
    size_t claimed = 0;
    CHECK_STATUS(shmbus_publisher_try_claim_batch(publisher, lengths, 1, &claimed),
                 SHMBUS_E_BACK_PRESSURED);
    const shmbus_buffer batch[1] = {{record, sizeof record}};
    size_t published = 0;
    CHECK_STATUS(shmbus_publisher_offer_batch(publisher, batch, 1, 1000000, &published),
                 SHMBUS_E_TIMED_OUT);
    CHECK(published == 0);

    /* Reading makes room again. */
    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == (size_t)offered);
    CHECK_OK(shmbus_publisher_try_offer(publisher, record, sizeof record));
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void an_overwrite_topic_counts_what_a_slow_subscriber_lost(void) {
    create_small("t", SHMBUS_POLICY_OVERWRITE);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    static char record[200];
    for (int i = 0; i < 100; ++i)
        CHECK_OK(shmbus_publisher_try_offer(publisher, record, 200));
    struct seen seen = {0};
    const size_t read = poll_all(subscriber, &seen);
    shmbus_subscriber_counters counters;
    shmbus_subscriber_counters_init(&counters);
    CHECK_OK(shmbus_subscriber_counters_get(subscriber, &counters));
    CHECK(read > 0 && read < 100);
    CHECK(counters.lost > 0);
    CHECK(counters.consumed + counters.lost == 100);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void a_subscriber_resumes_at_a_saved_position(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* first = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    CHECK_OK(shmbus_publisher_try_offer(publisher, "one", 3));
    CHECK_OK(shmbus_publisher_try_offer(publisher, "two", 3));
    struct seen seen = {0};
    seen.stop_after = 1;
    CHECK_OK(shmbus_subscriber_poll(first, remember, &seen, 0, NULL));
    CHECK(strcmp(seen.last, "one") == 0);

    shmbus_subscriber_options options;
    shmbus_subscriber_options_init(&options);
    options.start = SHMBUS_START_POSITION;
    options.position = seen.last_next_position;
    options.has_sequence = true;
    options.next_sequence = seen.last_sequence + 1;
    shmbus_subscriber* resumed = NULL;
    CHECK_OK(shmbus_subscriber_open(topic, &options, &resumed));
    struct seen after = {0};
    CHECK(poll_all(resumed, &after) == 1);
    CHECK(strcmp(after.last, "two") == 0);

    /* A position inside a frame is no place to start. */
    options.position = seen.last_next_position + 3;
    options.has_sequence = false;
    shmbus_subscriber* bad = NULL;
    CHECK_STATUS(shmbus_subscriber_open(topic, &options, &bad), SHMBUS_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    options.start = 42;
    CHECK_STATUS(shmbus_subscriber_open(topic, &options, &bad), SHMBUS_E_INVALID_ARGUMENT);

    /* LATEST sees only what comes after it. */
    shmbus_subscriber* latest = open_subscriber(topic, SHMBUS_START_LATEST);
    struct seen none = {0};
    CHECK(poll_all(latest, &none) == 0);
    CHECK_OK(shmbus_publisher_try_offer(publisher, "three", 5));
    CHECK(poll_all(latest, &none) == 1);

    shmbus_subscriber_close(&latest);
    shmbus_subscriber_close(&resumed);
    shmbus_subscriber_close(&first);
    shmbus_publisher_close(&publisher);
    shmbus_topic_close(&topic);
}

static void wait_ready_and_the_wake_descriptor_follow_the_edge_triggered_pattern(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));

    CHECK_STATUS(shmbus_subscriber_wait(subscriber, 1000000), SHMBUS_E_TIMED_OUT);
    CHECK_STATUS(shmbus_subscriber_ready(subscriber), 0);
    CHECK_OK(shmbus_publisher_try_offer(publisher, "x", 1));
    CHECK_STATUS(shmbus_subscriber_ready(subscriber), 1);
    CHECK_OK(shmbus_subscriber_wait(subscriber, 0));
    CHECK_OK(shmbus_subscriber_wait(subscriber, SHMBUS_WAIT_FOREVER)); /* returns at once */

    const int fd = shmbus_subscriber_wake_fd(subscriber);
    CHECK(fd >= 0);
    CHECK(shmbus_subscriber_wake_fd(subscriber) == fd); /* opened once */
    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == 1);
    CHECK_STATUS(shmbus_subscriber_arm(subscriber), 0); /* nothing came: wait on the fd */
    struct pollfd watch = {fd, POLLIN, 0};
    CHECK(poll(&watch, 1, 0) == 0);
    CHECK_OK(shmbus_publisher_try_offer(publisher, "y", 1));
    CHECK(poll(&watch, 1, 5000) == 1 && (watch.revents & POLLIN) != 0);
    CHECK(poll_all(subscriber, &seen) == 1);
    CHECK(strcmp(seen.last, "y") == 0);
    /* Something committed before arm: arm says so, the fd need not. */
    CHECK_OK(shmbus_publisher_try_offer(publisher, "z", 1));
    CHECK_STATUS(shmbus_subscriber_arm(subscriber), 1);

    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void a_wait_set_reports_subscribers_and_descriptors_by_key(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_subscriber* other = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    int pipe_fds[2];
    CHECK(pipe(pipe_fds) == 0);

    shmbus_wait_set* set = NULL;
    CHECK_OK(shmbus_wait_set_create(&set));
    CHECK(shmbus_wait_set_fd(set) >= 0);
    CHECK_OK(shmbus_wait_set_add_subscriber(set, subscriber, 7));
    CHECK_STATUS(shmbus_wait_set_add_subscriber(set, subscriber, 8), SHMBUS_E_INVALID_ARGUMENT);
    CHECK_OK(shmbus_wait_set_add_fd(set, pipe_fds[0], EPOLLIN, 9));
    CHECK_STATUS(shmbus_wait_set_add_fd(set, -1, EPOLLIN, 10), SHMBUS_E_INVALID_ARGUMENT);

    shmbus_ready ready[4];
    CHECK_STATUS(shmbus_wait_set_wait(set, 1000000, ready, 4), 0);
    CHECK_STATUS(shmbus_wait_set_wait(set, 0, NULL, 4), SHMBUS_E_INVALID_ARGUMENT);

    CHECK_OK(shmbus_publisher_try_offer(publisher, "x", 1));
    CHECK_STATUS(shmbus_wait_set_wait(set, SHMBUS_WAIT_FOREVER, ready, 4), 1);
    CHECK(ready[0].key == 7 && ready[0].subscriber);
    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == 1);

    /* Both ready, room for one: the other comes with the next call, without waiting. */
    CHECK_OK(shmbus_publisher_try_offer(publisher, "y", 1));
    CHECK(write(pipe_fds[1], "!", 1) == 1);
    CHECK_STATUS(shmbus_wait_set_wait(set, 1000000000, ready, 1), 1);
    const uint64_t first_key = ready[0].key;
    CHECK_STATUS(shmbus_wait_set_wait(set, 0, ready, 1), 1);
    CHECK(ready[0].key != first_key);
    CHECK((first_key == 9 ? ready[0].key : first_key) == 7);
    CHECK(poll_all(subscriber, &seen) == 1);
    char byte;
    CHECK(read(pipe_fds[0], &byte, 1) == 1);

    CHECK_OK(shmbus_wait_set_remove_fd(set, pipe_fds[0]));
    CHECK_STATUS(shmbus_wait_set_remove_fd(set, pipe_fds[0]), SHMBUS_E_NOT_FOUND);
    CHECK_OK(shmbus_wait_set_remove_subscriber(set, subscriber));
    CHECK_STATUS(shmbus_wait_set_remove_subscriber(set, subscriber), SHMBUS_E_NOT_FOUND);
    CHECK_STATUS(shmbus_wait_set_remove_subscriber(set, other), SHMBUS_E_NOT_FOUND);

    /* A subscriber closed while in a set leaves it: the set goes on without it. */
    CHECK_OK(shmbus_wait_set_add_subscriber(set, other, 11));
    shmbus_subscriber_close(&other);
    CHECK_OK(shmbus_publisher_try_offer(publisher, "z", 1));
    CHECK_STATUS(shmbus_wait_set_wait(set, 1000000, ready, 4), 0);

    /* A set closed with a subscriber in it frees the subscriber for another set. */
    CHECK_OK(shmbus_wait_set_add_subscriber(set, subscriber, 12));
    shmbus_wait_set_close(&set);
    CHECK(set == NULL);
    CHECK_OK(shmbus_wait_set_create(&set));
    CHECK_OK(shmbus_wait_set_add_subscriber(set, subscriber, 13));
    CHECK_STATUS(shmbus_wait_set_wait(set, 0, ready, 4), 1);
    CHECK(ready[0].key == 13);

    /* A member removed while its ready entry waits in the set is not reported afterwards. */
    shmbus_subscriber* third = open_subscriber(topic, SHMBUS_START_EARLIEST);
    CHECK_OK(shmbus_wait_set_add_subscriber(set, third, 14));
    CHECK_STATUS(shmbus_wait_set_wait(set, 0, ready, 1), 1);
    const uint64_t reported = ready[0].key;
    CHECK(reported == 13 || reported == 14);
    CHECK_OK(shmbus_wait_set_remove_subscriber(set, reported == 13 ? third : subscriber));
    CHECK_STATUS(shmbus_wait_set_wait(set, 0, ready, 4), 1);
    CHECK(ready[0].key == reported);
    shmbus_subscriber_close(&third);
    shmbus_wait_set_close(&set);

    close(pipe_fds[0]);
    close(pipe_fds[1]);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

static void publishers_and_subscribers_outlive_their_topic_handle(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    shmbus_topic_close(&topic);
    CHECK_OK(shmbus_publisher_try_offer(publisher, "still", 5));
    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == 1);
    CHECK(strcmp(seen.last, "still") == 0);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
}

static void slots_and_access_are_enforced(void) {
    create_small("t", SHMBUS_POLICY_BLOCK); /* two publisher slots */
    shmbus_topic* topic = open_topic("t");
    shmbus_publisher* publishers[3] = {NULL, NULL, NULL};
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publishers[0]));
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publishers[1]));
    CHECK_STATUS(shmbus_publisher_open(topic, NULL, &publishers[2]), SHMBUS_E_NO_SLOT);
    CHECK(publishers[2] == NULL);
    shmbus_publisher_close(&publishers[0]);
    shmbus_publisher_close(&publishers[1]);

    shmbus_open_options options;
    shmbus_open_options_init(&options);
    options.access = SHMBUS_ACCESS_SUBSCRIBE;
    shmbus_topic* reader = NULL;
    CHECK_OK(shmbus_topic_open(bus, "t", &options, &reader));
    CHECK_STATUS(shmbus_publisher_open(reader, NULL, &publishers[0]), SHMBUS_E_PERMISSION);
    shmbus_subscriber* subscriber = open_subscriber(reader, SHMBUS_START_EARLIEST);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&reader);
    shmbus_topic_close(&topic);
    (void)shmbus_last_errno(); /* whatever it is; it must be callable */
}

static void null_and_closed_handles_are_refused_not_used(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_publisher* publisher = NULL;
    shmbus_subscriber* subscriber = NULL;
    shmbus_wait_set* set = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    CHECK_OK(shmbus_wait_set_create(&set));
    /* Closed handles are NULL handles from here on. */
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_wait_set_close(&set);
    shmbus_topic_close(&topic);
    CHECK(publisher == NULL && subscriber == NULL && set == NULL && topic == NULL);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_wait_set_close(&set);
    shmbus_publisher_close(NULL);
    shmbus_subscriber_close(NULL);
    shmbus_wait_set_close(NULL);

    const int invalid = SHMBUS_E_INVALID_ARGUMENT;
    shmbus_topic_stats stats;
    shmbus_topic_stats_init(&stats);
    CHECK(shmbus_topic_name(topic) == NULL);
    CHECK(shmbus_topic_directory(topic) == NULL);
    CHECK_STATUS(shmbus_topic_stat(topic, &stats), invalid);
    CHECK(strstr(shmbus_last_error_message(), "shmbus_topic_stat") != NULL);
    CHECK_STATUS(shmbus_publisher_open(topic, NULL, &publisher), invalid);
    CHECK_STATUS(shmbus_subscriber_open(topic, NULL, &subscriber), invalid);

    void* payload = NULL;
    size_t count = 0;
    const uint32_t lengths[1] = {1};
    const shmbus_buffer records[1] = {{"x", 1}};
    CHECK_STATUS(shmbus_publisher_try_offer(publisher, "x", 1), invalid);
    CHECK_STATUS(shmbus_publisher_offer(publisher, "x", 1, 0), invalid);
    CHECK_STATUS(shmbus_publisher_try_offer_batch(publisher, records, 1, &count), invalid);
    CHECK_STATUS(shmbus_publisher_offer_batch(publisher, records, 1, 0, &count), invalid);
    CHECK_STATUS(shmbus_publisher_try_claim(publisher, 1, &payload), invalid);
    CHECK_STATUS(shmbus_publisher_claim(publisher, 1, 0, &payload), invalid);
    CHECK_STATUS(shmbus_publisher_try_claim_batch(publisher, lengths, 1, &count), invalid);
    CHECK_STATUS(shmbus_publisher_claim_payload(publisher, 0, &payload, NULL), invalid);
    CHECK_STATUS(shmbus_publisher_commit(publisher), invalid);
    CHECK_STATUS(shmbus_publisher_abort(publisher), invalid);
    CHECK_STATUS(shmbus_publisher_flush(publisher), invalid);

    const shmbus_record* record = NULL;
    shmbus_subscriber_counters counters;
    shmbus_subscriber_counters_init(&counters);
    struct seen seen = {0};
    CHECK_STATUS(shmbus_subscriber_poll(subscriber, remember, &seen, 0, &count), invalid);
    CHECK_STATUS(shmbus_subscriber_peek(subscriber, &record), invalid);
    CHECK_STATUS(shmbus_subscriber_advance(subscriber), invalid);
    CHECK_STATUS(shmbus_subscriber_wait(subscriber, 0), invalid);
    CHECK_STATUS(shmbus_subscriber_wake_fd(subscriber), invalid);
    CHECK_STATUS(shmbus_subscriber_arm(subscriber), invalid);
    CHECK_STATUS(shmbus_subscriber_ready(subscriber), invalid);
    CHECK_STATUS(shmbus_subscriber_counters_get(subscriber, &counters), invalid);

    shmbus_ready ready[1];
    CHECK_STATUS(shmbus_wait_set_create(NULL), invalid);
    CHECK_STATUS(shmbus_wait_set_add_subscriber(set, subscriber, 1), invalid);
    CHECK_STATUS(shmbus_wait_set_add_fd(set, 0, EPOLLIN, 1), invalid);
    CHECK_STATUS(shmbus_wait_set_remove_subscriber(set, subscriber), invalid);
    CHECK_STATUS(shmbus_wait_set_remove_fd(set, 0), invalid);
    CHECK_STATUS(shmbus_wait_set_wait(set, 0, ready, 1), invalid);
    CHECK_STATUS(shmbus_wait_set_fd(set), invalid);

    /* A live handle with NULL out-parameters or a NULL handler. */
    topic = open_topic("t");
    CHECK_STATUS(shmbus_topic_stat(topic, NULL), invalid);
    CHECK_STATUS(shmbus_publisher_open(topic, NULL, NULL), invalid);
    CHECK_STATUS(shmbus_subscriber_open(topic, NULL, NULL), invalid);
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    CHECK_STATUS(shmbus_publisher_try_claim(publisher, 1, NULL), invalid);
    CHECK_STATUS(shmbus_publisher_try_offer(publisher, NULL, 1), invalid);
    CHECK_STATUS(shmbus_publisher_try_claim_batch(publisher, lengths, 1, NULL), invalid);
    subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    CHECK_STATUS(shmbus_subscriber_poll(subscriber, NULL, NULL, 0, &count), invalid);
    CHECK_STATUS(shmbus_subscriber_counters_get(subscriber, NULL), invalid);
    shmbus_subscriber_close(&subscriber);
    shmbus_publisher_close(&publisher);
    shmbus_topic_close(&topic);
}

/* An options struct from a newer header: this library's fields, then ones it does not know. */
struct newer_open_options {
    shmbus_open_options known;
    uint64_t unknown[2];
};

static void struct_size_is_checked_both_ways(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = NULL;

    shmbus_open_options options;
    shmbus_open_options_init(&options);
    CHECK(options.struct_size == sizeof options);
    options.struct_size = 0;
    CHECK_STATUS(shmbus_topic_open(bus, "t", &options, &topic), SHMBUS_E_INVALID_ARGUMENT);
    options.struct_size = sizeof options - 1;
    CHECK_STATUS(shmbus_topic_open(bus, "t", &options, &topic), SHMBUS_E_INVALID_ARGUMENT);

    /* Larger: accepted while the unknown tail is zero, refused once it asks for something. */
    struct newer_open_options newer;
    memset(&newer, 0, sizeof newer);
    shmbus_open_options_init(&newer.known);
    newer.known.struct_size = sizeof newer;
    CHECK_OK(shmbus_topic_open(bus, "t", &newer.known, &topic));
    shmbus_topic_close(&topic);
    newer.unknown[1] = 1;
    CHECK_STATUS(shmbus_topic_open(bus, "t", &newer.known, &topic), SHMBUS_E_INVALID_ARGUMENT);
    CHECK(topic == NULL);

    shmbus_topic_options topic_options;
    shmbus_topic_options_init(&topic_options);
    topic_options.struct_size = 8;
    CHECK_STATUS(shmbus_topic_create(bus, "u", &topic_options), SHMBUS_E_INVALID_ARGUMENT);

    topic = open_topic("t");
    shmbus_publisher_options publisher_options;
    shmbus_publisher_options_init(&publisher_options);
    publisher_options.struct_size = 1;
    shmbus_publisher* publisher = NULL;
    CHECK_STATUS(shmbus_publisher_open(topic, &publisher_options, &publisher),
                 SHMBUS_E_INVALID_ARGUMENT);
    shmbus_subscriber_options subscriber_options;
    shmbus_subscriber_options_init(&subscriber_options);
    subscriber_options.struct_size = 0;
    shmbus_subscriber* subscriber = NULL;
    CHECK_STATUS(shmbus_subscriber_open(topic, &subscriber_options, &subscriber),
                 SHMBUS_E_INVALID_ARGUMENT);

    /* Output structs: too small is refused; larger gets this library's fields, the rest kept. */
    shmbus_topic_stats stats;
    shmbus_topic_stats_init(&stats);
    stats.struct_size = 4;
    CHECK_STATUS(shmbus_topic_stat(topic, &stats), SHMBUS_E_INVALID_ARGUMENT);
    struct {
        shmbus_topic_stats known;
        uint64_t beyond;
    } bigger;
    shmbus_topic_stats_init(&bigger.known);
    bigger.known.struct_size = sizeof bigger;
    bigger.beyond = 0xfeed;
    CHECK_OK(shmbus_topic_stat(topic, &bigger.known));
    CHECK(bigger.known.capacity == 4096 && bigger.beyond == 0xfeed);
    CHECK(bigger.known.struct_size == sizeof bigger);

    subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_subscriber_counters counters;
    shmbus_subscriber_counters_init(&counters);
    counters.struct_size = 0;
    CHECK_STATUS(shmbus_subscriber_counters_get(subscriber, &counters), SHMBUS_E_INVALID_ARGUMENT);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

/* In a forked child, the child's own check: 0 passed, else the line that failed. */
#define CHILD_CHECK(condition)                       \
    do {                                             \
        if (!(condition)) _exit(__LINE__ % 250 + 1); \
    } while (0)

static void a_forked_child_is_refused_its_parents_handles_and_opens_its_own(void) {
    create_small("t", SHMBUS_POLICY_BLOCK);
    shmbus_topic* topic = open_topic("t");
    shmbus_subscriber* subscriber = open_subscriber(topic, SHMBUS_START_EARLIEST);
    shmbus_publisher* publisher = NULL;
    CHECK_OK(shmbus_publisher_open(topic, NULL, &publisher));
    CHECK_OK(shmbus_publisher_try_offer(publisher, "parent", 6));

    const pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        /* The parent's handles are the parent's: refused, never used. The child leaves them
         * alone and exits with _exit, as a forked child of a library user should. */
        CHILD_CHECK(shmbus_publisher_try_offer(publisher, "x", 1) == SHMBUS_E_FORKED);
        size_t records = 0;
        struct seen seen = {0};
        CHILD_CHECK(shmbus_subscriber_poll(subscriber, remember, &seen, 0, &records) ==
                    SHMBUS_E_FORKED);
        CHILD_CHECK(records == 0);
        shmbus_topic* own = NULL;
        CHILD_CHECK(shmbus_topic_open(bus, "t", NULL, &own) == SHMBUS_OK);
        shmbus_publisher* mine = NULL;
        CHILD_CHECK(shmbus_publisher_open(own, NULL, &mine) == SHMBUS_OK);
        CHILD_CHECK(shmbus_publisher_offer(mine, "child", 5, SHMBUS_WAIT_FOREVER) == SHMBUS_OK);
        shmbus_publisher_close(&mine);
        shmbus_topic_close(&own);
        _exit(0);
    }
    int child_status = 0;
    CHECK(waitpid(child, &child_status, 0) == child);
    if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "the child failed: status %d (its CHILD_CHECK line %% 250 + 1)\n",
                WEXITSTATUS(child_status));
    }
    CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0);

    struct seen seen = {0};
    CHECK(poll_all(subscriber, &seen) == 2);
    CHECK(strcmp(seen.last, "child") == 0);
    shmbus_publisher_close(&publisher);
    shmbus_subscriber_close(&subscriber);
    shmbus_topic_close(&topic);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(atexit(remove_bus) == 0);
    run("version and status text are those of this release",
        version_and_status_text_are_those_of_this_release);
    run("a topic is created, opened, described and removed",
        a_topic_is_created_opened_described_and_removed);
    run("opening a missing or misnamed topic says why",
        opening_a_missing_or_misnamed_topic_says_why);
    run("records offered are polled in order with their metadata",
        records_offered_are_polled_in_order_with_their_metadata);
    run("a handler that returns nonzero stops the poll after its record",
        a_handler_that_returns_nonzero_stops_the_poll_after_its_record);
    run("peek holds the record until advance", peek_holds_the_record_until_advance);
    run("a claim is written in place and committed once",
        a_claim_is_written_in_place_and_committed_once);
    run("a batch claim publishes every record with one commit",
        a_batch_claim_publishes_every_record_with_one_commit);
    run("a record longer than the topic allows is refused",
        a_record_longer_than_the_topic_allows_is_refused);
    run("a full block ring back-pressures and times out",
        a_full_block_ring_back_pressures_and_times_out);
    run("an overwrite topic counts what a slow subscriber lost",
        an_overwrite_topic_counts_what_a_slow_subscriber_lost);
    run("a subscriber resumes at a saved position", a_subscriber_resumes_at_a_saved_position);
    run("wait, ready and the wake descriptor follow the edge-triggered pattern",
        wait_ready_and_the_wake_descriptor_follow_the_edge_triggered_pattern);
    run("a wait set reports subscribers and descriptors by key",
        a_wait_set_reports_subscribers_and_descriptors_by_key);
    run("publishers and subscribers outlive their topic handle",
        publishers_and_subscribers_outlive_their_topic_handle);
    run("slots and access are enforced", slots_and_access_are_enforced);
    run("a forked child is refused its parent's handles and opens its own",
        a_forked_child_is_refused_its_parents_handles_and_opens_its_own);
    run("null and closed handles are refused, not used",
        null_and_closed_handles_are_refused_not_used);
    run("struct_size is checked both ways", struct_size_is_checked_both_ways);
    printf("test_c_api: all cases passed\n");
    return 0;
}
