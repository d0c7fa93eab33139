/* The C version of pubsub.cpp: publishes or subscribes to one topic through shmbus.h.
 *
 *   shmbus-example-c pub TOPIC COUNT   publishes "hello 0" .. "hello COUNT-1"
 *   shmbus-example-c sub TOPIC COUNT   prints COUNT records (the oldest still there first)
 *
 * The bus directory is $SHMBUS_DIR, else /run/shmbus. A missing topic is asked of shmbusd.
 *
 *   cc -std=c11 pubsub.c $(pkg-config --cflags --libs shmbus) */
#include <shmbus/shmbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A poll handler: prints the record, counts it, and stops once `count` records were printed. */
struct progress {
    long seen;
    long count;
};

static int print_record(void* context, const shmbus_record* record) {
    struct progress* progress = context;
    printf("%.*s\n", (int)record->length, (const char*)record->payload);
    return ++progress->seen >= progress->count; /* nonzero: stop after this record */
}

static int failed(const char* program, const char* what, int status) {
    fprintf(stderr, "%s: %s: %s (%s)\n", program, what, shmbus_strerror(status),
            shmbus_last_error_message());
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 4 || (strcmp(argv[1], "pub") != 0 && strcmp(argv[1], "sub") != 0)) {
        fprintf(stderr, "usage: %s pub|sub TOPIC COUNT\n", argv[0]);
        return 2;
    }
    const long count = strtol(argv[3], NULL, 10);
    shmbus_topic* topic = NULL;
    int status = shmbus_topic_open_or_create(NULL, argv[2], NULL, NULL, &topic);
    if (status != SHMBUS_OK) return failed(argv[0], "opening the topic", status);

    if (strcmp(argv[1], "pub") == 0) {
        shmbus_publisher* publisher = NULL;
        status = shmbus_publisher_open(topic, NULL, &publisher);
        if (status != SHMBUS_OK) return failed(argv[0], "attaching a publisher", status);
        for (long i = 0; i < count && status == SHMBUS_OK; ++i) {
            char record[32];
            const int length = snprintf(record, sizeof record, "hello %ld", i);
            status = shmbus_publisher_offer(publisher, record, (size_t)length, SHMBUS_WAIT_FOREVER);
        }
        shmbus_publisher_close(&publisher);
        shmbus_topic_close(&topic);
        return status == SHMBUS_OK ? 0 : failed(argv[0], "publishing", status);
    }

    shmbus_subscriber_options options;
    shmbus_subscriber_options_init(&options);
    options.start = SHMBUS_START_EARLIEST;
    shmbus_subscriber* subscriber = NULL;
    status = shmbus_subscriber_open(topic, &options, &subscriber);
    shmbus_topic_close(&topic); /* the subscriber keeps the topic mapped */
    if (status != SHMBUS_OK) return failed(argv[0], "attaching a subscriber", status);
    struct progress progress = {0, count};
    while (progress.seen < progress.count) {
        status = shmbus_subscriber_poll(subscriber, print_record, &progress, 0, NULL);
        if (status != SHMBUS_OK) break;
        /* Spins briefly, then sleeps until a publisher commits: SHMBUS_E_TIMED_OUT is fine. */
        status = shmbus_subscriber_wait(subscriber, 1000000000);
        if (status != SHMBUS_OK && status != SHMBUS_E_TIMED_OUT) break;
        status = SHMBUS_OK;
    }
    shmbus_subscriber_close(&subscriber);
    return status == SHMBUS_OK ? 0 : failed(argv[0], "subscribing", status);
}
