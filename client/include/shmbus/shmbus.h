/* libshmbus's C API: a stable C11 interface over the C++ library, for C programs and for
 * bindings (Python cffi, Rust, Go cgo, ...). docs/C-API.md is the reference; this header says
 * the rules each function keeps.
 *
 *   shmbus_topic* topic = NULL;
 *   if (shmbus_topic_open(NULL, "orders", NULL, &topic) != SHMBUS_OK) {
 *       fprintf(stderr, "%s\n", shmbus_last_error_message());
 *       return 1;
 *   }
 *   shmbus_publisher* publisher = NULL;
 *   shmbus_publisher_open(topic, NULL, &publisher);
 *   shmbus_publisher_offer(publisher, "hello", 5, -1);
 *   shmbus_publisher_close(&publisher);
 *   shmbus_topic_close(&topic);
 *
 * Rules that hold for every function:
 *  - Every function that can fail returns an int: SHMBUS_OK (0) or a negative shmbus_status. A
 *    few return a non-negative value on success (a descriptor, a boolean, a count), said at
 *    each. The *_close and *_init functions cannot fail.
 *  - No C++ exception ever leaves a function. A failure sets a message for this thread,
 *    shmbus_last_error_message(), and the errno of the failing system call, shmbus_last_errno().
 *  - Handles are opaque. A NULL handle is SHMBUS_E_INVALID_ARGUMENT, never a crash.
 *    shmbus_*_close takes the address of the handle and sets it to NULL, so that using the
 *    variable afterwards is SHMBUS_E_INVALID_ARGUMENT too; a copy of the pointer kept elsewhere
 *    dangles, as after free().
 *  - Options and output structs start with `size_t struct_size`: set it with the matching
 *    *_init function (or to sizeof the struct). A later release may append fields; see
 *    SHMBUS_STRUCT_SIZE_RULE below.
 *  - Threads: a topic handle may be used from any number of threads at once. A publisher (and
 *    its pending claim), a subscriber and a wait set are each used by one thread at a time. */
#ifndef SHMBUS_SHMBUS_H
#define SHMBUS_SHMBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release this header belongs to (the same values as shmbus/version.hpp: the build checks
 * that they agree with the project's version). */
#define SHMBUS_VERSION "0.4.0"
#define SHMBUS_VERSION_MAJOR 0
#define SHMBUS_VERSION_MINOR 4
#define SHMBUS_VERSION_PATCH 0
/* The SONAME's number: libshmbus.so.2 (docs/COMPATIBILITY.md). */
#define SHMBUS_C_ABI_VERSION 2

/* SHMBUS_STRUCT_SIZE_RULE: an options struct passed in whose struct_size is smaller than the
 * first published version of that struct is SHMBUS_E_INVALID_ARGUMENT. One that is larger than
 * this library knows (a program built against a newer header) is accepted only if every byte
 * beyond what this library knows is zero: the caller then asked for nothing this library cannot
 * do. An output struct is filled up to the smaller of its struct_size and this library's size.
 * A later version adds fields only beyond the earlier version's sizeof, never in its trailing
 * padding, so that every new field changes struct_size. */

/* What a call returns. Data-path outcomes first (shmbus::Status), then setup failures
 * (shmbus::ErrorCode), then the C API's own. The values are part of the ABI: never reused. */
typedef enum shmbus_status {
    SHMBUS_OK = 0,
    /* The data path (shmbus::Status). */
    SHMBUS_E_BACK_PRESSURED = -1,    /* block topic: the slowest subscriber would be overrun */
    SHMBUS_E_TIMED_OUT = -2,         /* the timeout passed first */
    SHMBUS_E_TOO_LARGE = -3,         /* the record is longer than the topic's max_record_size */
    SHMBUS_E_EVICTED = -4,           /* the daemon evicted this subscriber; open a new one */
    SHMBUS_E_FORKED = -5,            /* the handle belongs to the parent of this forked process */
    SHMBUS_E_TOPIC_LOST = -6,        /* the topic's files were truncated: re-open the topic */
    SHMBUS_E_CORRUPT = -7,           /* the shared state holds an impossible value */
    SHMBUS_E_CLAIM_PENDING = -8,     /* the publisher already holds an uncommitted claim */
    SHMBUS_E_NO_CLAIM = -9,          /* commit, abort or payload with no claim pending */
    SHMBUS_E_INVALID_ARGUMENT = -10, /* a NULL handle, a bad option, a misuse */
    SHMBUS_E_CLOSED = -11,           /* the underlying handle holds no topic any more */
    /* Setup (shmbus::ErrorCode). */
    SHMBUS_E_NOT_FOUND = -20,    /* no such topic or directory, or no daemon to ask */
    SHMBUS_E_EXISTS = -21,       /* the topic exists already */
    SHMBUS_E_PERMISSION = -22,   /* EACCES / EPERM on a file, a lock or the control socket */
    SHMBUS_E_FORMAT = -23,       /* not a shmbus topic, or an inconsistent layout */
    SHMBUS_E_INCOMPATIBLE = -24, /* a topic of another format version */
    SHMBUS_E_NO_SPACE = -25,     /* the file system is full */
    SHMBUS_E_NO_SLOT = -26,      /* every publisher or subscriber slot is taken */
    SHMBUS_E_BUSY = -27,         /* being initialised, or another daemon owns the directory */
    SHMBUS_E_SYSTEM = -28,       /* another failing system call: see shmbus_last_errno() */
    /* The C API's own. */
    SHMBUS_E_NO_MEMORY = -40, /* an allocation failed */
    SHMBUS_E_INTERNAL = -41   /* an unexpected failure inside the library (a bug: report it) */
} shmbus_status;

/* Alias: a try_ call that would have had to wait. */
#define SHMBUS_E_WOULD_BLOCK SHMBUS_E_BACK_PRESSURED

/* A timeout that never passes. Any negative timeout means the same. */
#define SHMBUS_WAIT_FOREVER ((int64_t)-1)

/* "ok", "back-pressured", ...: a static string for any int, "unknown status" for other values. */
const char* shmbus_strerror(int status);
/* The detail of the last failure of a shmbus_ call on this thread (names the topic, the file and
 * the reason), "" if none failed yet. Successful calls leave it alone, as with errno. Valid until
 * the next shmbus_ call on this thread. */
const char* shmbus_last_error_message(void);
/* The errno of the failing system call behind the last failure on this thread, or 0. */
int shmbus_last_errno(void);

/* "0.4.0": the release of the library loaded, which may be newer than SHMBUS_VERSION. */
const char* shmbus_version(void);
/* The topic format version this library reads and writes (docs/COMPATIBILITY.md). */
uint32_t shmbus_format_version(void);

/* ---- Topics ---------------------------------------------------------------------------- */

typedef struct shmbus_topic shmbus_topic;

typedef enum shmbus_policy {
    SHMBUS_POLICY_BLOCK = 0,    /* lossless: publishers wait for the slowest live subscriber */
    SHMBUS_POLICY_OVERWRITE = 1 /* publishers never wait; lapped subscribers count losses */
} shmbus_policy;

/* What shmbus_topic_create makes (shmbus::TopicOptions; the file owners are the creator's). */
typedef struct shmbus_topic_options {
    size_t struct_size;
    uint64_t capacity;        /* ring bytes, a power of two (default 1 MiB) */
    uint32_t max_record_size; /* default 64 KiB; a frame must fit a quarter of the ring */
    uint32_t max_publishers;  /* default 16 */
    uint32_t max_subscribers; /* default 64 */
    int32_t policy;           /* a shmbus_policy, default SHMBUS_POLICY_BLOCK */
    bool timestamps;          /* stamp each record with CLOCK_REALTIME (default true) */
    bool fenced_commits;      /* publishers commit with a full barrier, so that sleeping
                               * subscribers need no membarrier(2) (default false) */
    uint32_t records_mode;    /* default 0640 */
    uint32_t state_mode;      /* default 0660 */
    uint32_t directory_mode;  /* default 0755 */
} shmbus_topic_options;

typedef enum shmbus_access {
    SHMBUS_ACCESS_SUBSCRIBE = 0, /* records mapped read-only: subscribers only */
    SHMBUS_ACCESS_PUBLISH = 1,   /* publishers and subscribers (the default) */
    SHMBUS_ACCESS_ADMIN = 2      /* for tools that repair topics */
} shmbus_access;

typedef struct shmbus_open_options {
    size_t struct_size;
    int32_t access; /* a shmbus_access, default SHMBUS_ACCESS_PUBLISH */
    bool prefault;  /* pay the page faults at open (default true) */
} shmbus_open_options;

/* A snapshot of a topic's layout and counters (shmbus::TopicStats). */
typedef struct shmbus_topic_stats {
    size_t struct_size;
    uint64_t capacity;
    uint32_t max_record_size;
    uint32_t max_publishers;
    uint32_t max_subscribers;
    int32_t policy;
    bool timestamps;
    bool fenced_commits;
    uint64_t created_ns;    /* CLOCK_REALTIME */
    uint64_t tail_position; /* where the next frame will be claimed */
    uint64_t tail_sequence; /* sequence numbers handed out so far */
    uint64_t commit_floor;
    uint64_t published; /* records committed */
    uint64_t consumed;  /* records delivered, over all subscribers ever attached */
    uint64_t lost;      /* records subscribers lost to overwrite */
    uint64_t aborted;   /* claims aborted */
    uint64_t unblocked; /* dead publishers' claims turned into padding */
    uint64_t evicted;   /* subscribers evicted */
    uint64_t reclaimed; /* slots freed after their owner died */
    uint32_t supervisor_pid;
    uint32_t publishers;  /* occupied publisher slots */
    uint32_t subscribers; /* occupied subscriber slots */
} shmbus_topic_stats;

void shmbus_topic_options_init(shmbus_topic_options* options);
void shmbus_open_options_init(shmbus_open_options* options);
void shmbus_topic_stats_init(shmbus_topic_stats* stats);

/* `dir` NULL: $SHMBUS_DIR, else /run/shmbus. `options` NULL: the defaults. */
int shmbus_topic_create(const char* dir, const char* name, const shmbus_topic_options* options);
/* SHMBUS_OK, or SHMBUS_E_NOT_FOUND if there was no such topic. */
int shmbus_topic_remove(const char* dir, const char* name);
/* Opens topic `name` into *topic (set to NULL on failure). */
int shmbus_topic_open(const char* dir, const char* name, const shmbus_open_options* options,
                      shmbus_topic** topic);
/* As shmbus_topic_open; a missing topic is first asked of the shmbusd supervising `dir`. */
int shmbus_topic_open_or_create(const char* dir, const char* name,
                                const shmbus_topic_options* create_options,
                                const shmbus_open_options* open_options, shmbus_topic** topic);
/* Closes *topic and sets it to NULL; NULL or a NULL *topic is nothing to do. Publishers and
 * subscribers opened on it keep the mapping alive and go on working. */
void shmbus_topic_close(shmbus_topic** topic);

/* Owned by the topic, valid until it is closed. NULL for a NULL topic. */
const char* shmbus_topic_name(const shmbus_topic* topic);
const char* shmbus_topic_directory(const shmbus_topic* topic);
/* Counters and slots now (a lock probe per occupied slot: keep it off the data path). */
int shmbus_topic_stat(const shmbus_topic* topic, shmbus_topic_stats* stats);

/* ---- Publishers ------------------------------------------------------------------------ */

typedef struct shmbus_publisher shmbus_publisher;

typedef struct shmbus_publisher_options {
    size_t struct_size;
    int64_t spin_ns; /* how long a back-pressured publisher spins before it sleeps (20 us) */
} shmbus_publisher_options;

/* One record of a batch. */
typedef struct shmbus_buffer {
    const void* data;
    size_t length;
} shmbus_buffer;

void shmbus_publisher_options_init(shmbus_publisher_options* options);

/* Attaches a publisher to `topic` (opened for publishing). SHMBUS_E_PERMISSION for a topic
 * opened for subscribing only, SHMBUS_E_NO_SLOT if every slot is taken. */
int shmbus_publisher_open(shmbus_topic* topic, const shmbus_publisher_options* options,
                          shmbus_publisher** publisher);
/* Detaches; a pending claim is aborted first. Sets *publisher to NULL. */
void shmbus_publisher_close(shmbus_publisher** publisher);

/* Copies `length` bytes into the topic without waiting (SHMBUS_E_BACK_PRESSURED). */
int shmbus_publisher_try_offer(shmbus_publisher* publisher, const void* data, size_t length);
/* Copies, waiting up to `timeout_ns` (negative: forever) while back-pressured. */
int shmbus_publisher_offer(shmbus_publisher* publisher, const void* data, size_t length,
                           int64_t timeout_ns);
/* Copies as many of `records` as fit now; *published (may be NULL) says how many. SHMBUS_OK if
 * at least one was published, or count is 0. */
int shmbus_publisher_try_offer_batch(shmbus_publisher* publisher, const shmbus_buffer* records,
                                     size_t count, size_t* published);
/* Copies all of `records`, waiting up to `timeout_ns` for the whole batch. */
int shmbus_publisher_offer_batch(shmbus_publisher* publisher, const shmbus_buffer* records,
                                 size_t count, int64_t timeout_ns, size_t* published);

/* Zero-copy publishing. A publisher holds at most one claim, single or batch:
 *
 *   void* payload;
 *   if (shmbus_publisher_try_claim(publisher, 64, &payload) == SHMBUS_OK) {
 *       memcpy(payload, data, 64);
 *       shmbus_publisher_commit(publisher);
 *   }
 *
 * The payload belongs to the caller until commit or abort, and never after: write nothing
 * through the pointer then (shmbus_publisher_claim_payload says SHMBUS_E_NO_CLAIM). A second
 * commit is SHMBUS_E_NO_CLAIM. */
int shmbus_publisher_try_claim(shmbus_publisher* publisher, size_t length, void** payload);
int shmbus_publisher_claim(shmbus_publisher* publisher, size_t length, int64_t timeout_ns,
                           void** payload);
/* Claims frames for up to 64 records of `lengths` with one CAS, without waiting: the longest
 * prefix that fits, *claimed of them. Write each with shmbus_publisher_claim_payload. */
int shmbus_publisher_try_claim_batch(shmbus_publisher* publisher, const uint32_t* lengths,
                                     size_t count, size_t* claimed);
/* The payload of record `index` (0 for a single claim) of the pending claim, and its length
 * (`length` may be NULL). SHMBUS_E_NO_CLAIM when none is pending, SHMBUS_E_INVALID_ARGUMENT for
 * an index past the claim. */
int shmbus_publisher_claim_payload(shmbus_publisher* publisher, size_t index, void** payload,
                                   size_t* length);
/* Publishes the pending claim (single or batch). */
int shmbus_publisher_commit(shmbus_publisher* publisher);
/* Gives the pending claim up: subscribers skip it. */
int shmbus_publisher_abort(shmbus_publisher* publisher);
/* Writes the topic's records back to its file and waits (msync MS_SYNC): when it returns
 * SHMBUS_OK, every record committed before the call is on the file. For topics in a bus
 * directory on a disk; on a tmpfs it returns at once (docs/RELIABILITY.md, "Durable topics").
 * SHMBUS_E_SYSTEM (shmbus_last_errno(): EIO, ENOMEM) when the kernel could not write them. */
int shmbus_publisher_flush(shmbus_publisher* publisher);

/* ---- Subscribers ----------------------------------------------------------------------- */

typedef struct shmbus_subscriber shmbus_subscriber;

typedef enum shmbus_start {
    SHMBUS_START_LATEST = 0,   /* only records published after the subscriber attaches */
    SHMBUS_START_EARLIEST = 1, /* the oldest record still in the ring */
    SHMBUS_START_POSITION = 2  /* a position saved earlier (shmbus_record.next_position) */
} shmbus_start;

typedef struct shmbus_subscriber_options {
    size_t struct_size;
    int32_t start;          /* a shmbus_start, default SHMBUS_START_LATEST */
    bool has_sequence;      /* SHMBUS_START_POSITION: next_sequence is known, count the gap */
    bool zero_copy;         /* block topics: hand records out in place (default true) */
    uint64_t position;      /* SHMBUS_START_POSITION: where to start */
    uint64_t next_sequence; /* with has_sequence: the sequence expected at `position` */
    int64_t spin_ns;        /* how long wait spins before it sleeps (20 us) */
} shmbus_subscriber_options;

/* One record. Owned by the subscriber, never by the caller: valid during a poll handler, or
 * from peek until advance, the next peek or poll, or close. Fields may be appended. */
typedef struct shmbus_record {
    const void* payload;
    size_t length;
    uint64_t position;      /* where the record's frame starts */
    uint64_t next_position; /* save this to resume after the record */
    uint64_t sequence;      /* topic-wide, one more per claim */
    uint64_t timestamp_ns;  /* CLOCK_REALTIME at claim, 0 if the topic has none */
    uint16_t publisher;     /* slot of the publisher that wrote it */
} shmbus_record;

typedef struct shmbus_subscriber_counters {
    size_t struct_size;
    uint64_t position;          /* of the next frame to read: resume here */
    uint64_t next_sequence;     /* the sequence expected next, once known */
    uint64_t consumed;          /* records delivered */
    uint64_t lost;              /* records overwritten before they were read */
    uint64_t voided;            /* sequence numbers of aborted or abandoned claims */
    uint64_t corrupt;           /* frames skipped because their header could not be right */
    uint64_t slot_restorations; /* times the subscriber found its slot wiped and put it back */
    uint32_t slot;
} shmbus_subscriber_counters;

/* A poll handler: return 0 for more, anything else to stop after this record. */
typedef int (*shmbus_record_handler)(void* context, const shmbus_record* record);

void shmbus_subscriber_options_init(shmbus_subscriber_options* options);
void shmbus_subscriber_counters_init(shmbus_subscriber_counters* counters);

/* Attaches a subscriber (any access). SHMBUS_E_NO_SLOT, SHMBUS_E_INVALID_ARGUMENT (a saved
 * position that is not a frame boundary, or beyond the tail). */
int shmbus_subscriber_open(shmbus_topic* topic, const shmbus_subscriber_options* options,
                           shmbus_subscriber** subscriber);
/* Detaches (and leaves any wait set it is in). Sets *subscriber to NULL. */
void shmbus_subscriber_close(shmbus_subscriber** subscriber);

/* Hands up to `limit` records (0: the default, 256) to `handler`, without waiting; *records
 * (may be NULL) says how many. The status says what stopped it, as shmbus::PollResult does:
 * SHMBUS_OK, or SHMBUS_E_EVICTED, SHMBUS_E_TOPIC_LOST, SHMBUS_E_CORRUPT (frames were skipped,
 * records may still have been delivered). */
int shmbus_subscriber_poll(shmbus_subscriber* subscriber, shmbus_record_handler handler,
                           void* context, size_t limit, size_t* records);
/* The next record without a handler: *record points at it and 1 is returned, or *record is
 * NULL and 0 is returned when there is none now; negative: what poll would say. Peeking again
 * without advance returns the same record. */
int shmbus_subscriber_peek(shmbus_subscriber* subscriber, const shmbus_record** record);
/* Done with the peeked record (nothing to do if none is). */
int shmbus_subscriber_advance(shmbus_subscriber* subscriber);

/* SHMBUS_OK as soon as poll has something to do, SHMBUS_E_TIMED_OUT after `timeout_ns`
 * (negative: forever). */
int shmbus_subscriber_wait(shmbus_subscriber* subscriber, int64_t timeout_ns);
/* A descriptor (>= 0) that becomes readable when the subscriber may have something, for an
 * event loop; owned by the subscriber. Poll until empty, then arm, and poll again if arm
 * returned 1: docs/C-API.md, "Waiting in an event loop". */
int shmbus_subscriber_wake_fd(shmbus_subscriber* subscriber);
/* 1: poll again before waiting; 0: the wake descriptor will become readable. */
int shmbus_subscriber_arm(shmbus_subscriber* subscriber);
/* 1 if poll has something to do right now, 0 if not. */
int shmbus_subscriber_ready(const shmbus_subscriber* subscriber);
int shmbus_subscriber_counters_get(const shmbus_subscriber* subscriber,
                                   shmbus_subscriber_counters* counters);

/* ---- Wait sets: one thread waiting on many subscribers and descriptors ------------------ */

typedef struct shmbus_wait_set shmbus_wait_set;

/* A member with something to do. Fixed in ABI 1: never extended. */
typedef struct shmbus_ready {
    uint64_t key;
    uint32_t events; /* a descriptor's epoll events; EPOLLIN (1) for a subscriber */
    bool subscriber; /* a subscriber (poll it) or a foreign descriptor */
} shmbus_ready;

int shmbus_wait_set_create(shmbus_wait_set** wait_set);
/* Closes the set (its subscribers stay open). Sets *wait_set to NULL. */
void shmbus_wait_set_close(shmbus_wait_set** wait_set);
/* A subscriber is in at most one set at a time (else SHMBUS_E_INVALID_ARGUMENT). */
int shmbus_wait_set_add_subscriber(shmbus_wait_set* wait_set, shmbus_subscriber* subscriber,
                                   uint64_t key);
/* Descriptor `fd` for epoll `events` (EPOLLIN, ...); the set never reads or closes it. */
int shmbus_wait_set_add_fd(shmbus_wait_set* wait_set, int fd, uint32_t events, uint64_t key);
/* SHMBUS_OK, or SHMBUS_E_NOT_FOUND if it was not in the set. */
int shmbus_wait_set_remove_subscriber(shmbus_wait_set* wait_set, shmbus_subscriber* subscriber);
int shmbus_wait_set_remove_fd(shmbus_wait_set* wait_set, int fd);
/* Waits up to `timeout_ns` for members to be ready, writes up to `capacity` of them to `ready`
 * and returns how many it wrote (0: the timeout passed). Members that did not fit are returned
 * by the next call, at once, without waiting. Poll every ready subscriber until it has nothing left before waiting
 * again. */
int shmbus_wait_set_wait(shmbus_wait_set* wait_set, int64_t timeout_ns, shmbus_ready* ready,
                         size_t capacity);
/* The set's epoll descriptor: readable when wait would find something (to nest the set). */
int shmbus_wait_set_fd(const shmbus_wait_set* wait_set);

#ifdef __cplusplus
}
#endif

#endif /* SHMBUS_SHMBUS_H */
