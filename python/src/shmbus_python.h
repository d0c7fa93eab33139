/* The _shmbus extension module: what its files share.
 *
 *   module.c      the module, its exceptions, status -> exception, timeouts
 *   topic.c       Topic: create, open, remove, stat, close
 *   publisher.c   Publisher and Claim: copying offers, batches, claims written in place
 *   subscriber.c  Subscriber and Record: records in place, their lifetime, poll, counters
 *   wait.c        waiting with the GIL released: wait, receive, iteration, wake_fd, arm
 *
 * The module calls nothing but shmbus.h: it depends on libshmbus.so.2's C symbols only. */
#ifndef SHMBUS_PYTHON_H
#define SHMBUS_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <shmbus/shmbus.h>
#include <stdbool.h>
#include <stdint.h>
#include <structmember.h>

/* ---- module.c ---------------------------------------------------------------------------- */

/* The exception classes, created at import. */
extern PyObject* shmbus_py_Error;
extern PyObject* shmbus_py_StaleRecordError;
extern PyObject* shmbus_py_BufferInUseError;
extern PyObject* shmbus_py_ClosedError;

/* The exception class for a status (shmbus.Error for one without a class of its own). */
PyObject* shmbus_py_exception(int status);
/* Raises the exception for `status` with shmbus_last_error_message() (call right after the
 * failing shmbus_ call, on the same thread) and returns NULL. */
PyObject* shmbus_py_raise(int status);
/* Raises `type` (a shmbus.Error subclass with no status of its own) with a message. */
PyObject* shmbus_py_raise_message(PyObject* type, const char* format, ...);

/* Converts a timeout in seconds (None: forever, a number >= 0) to nanoseconds for shmbus.h
 * (negative: forever). Returns false with an exception set. */
bool shmbus_py_timeout_ns(PyObject* timeout, int64_t* timeout_ns);
/* A bus directory (None, str or os.PathLike) to a bytes object, or Py_None: for "O&". */
int shmbus_py_directory_converter(PyObject* object, void* result);

/* ---- topic.c ----------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD shmbus_topic* handle; /* NULL once closed */
} shmbus_py_topic;

extern PyTypeObject shmbus_py_TopicType;
/* The handle, or NULL with shmbus.Closed raised. */
shmbus_topic* shmbus_py_topic_handle(PyObject* topic);

/* ---- publisher.c ------------------------------------------------------------------------- */

typedef struct shmbus_py_claim shmbus_py_claim;

typedef struct {
    PyObject_HEAD shmbus_publisher* handle; /* NULL once closed */
    shmbus_py_claim* claim; /* the pending claim's object (borrowed: it clears this) */
    bool busy;              /* a call is waiting with the GIL released */
} shmbus_py_publisher;

struct shmbus_py_claim {
    PyObject_HEAD shmbus_py_publisher*
        publisher; /* strong: keeps the ring mapped while buffers exist */
    size_t length;
    void* payload;      /* NULL once committed or aborted */
    Py_ssize_t exports; /* buffers handed out and not released yet */
    PyObject* view;     /* the memoryview .payload returned, released at the end */
};

extern PyTypeObject shmbus_py_PublisherType;
extern PyTypeObject shmbus_py_ClaimType;

/* ---- subscriber.c ------------------------------------------------------------------------ */

typedef struct shmbus_py_record shmbus_py_record;

typedef struct {
    PyObject_HEAD shmbus_subscriber* handle; /* NULL once closed */
    shmbus_py_record* current; /* the record handed out in place (borrowed: it clears this) */
    bool peeked;               /* the C subscriber holds a peeked record not advanced past */
    bool busy;                 /* a call is waiting with the GIL released */
} shmbus_py_subscriber;

struct shmbus_py_record {
    PyObject_HEAD shmbus_py_subscriber*
        subscriber;      /* strong while in place; NULL for an owned copy */
    PyObject* owned;     /* bytes: the payload of a copied record, else NULL */
    const void* payload; /* in place: the bytes in the ring; NULL once stale */
    size_t length;
    uint64_t position;
    uint64_t next_position;
    uint64_t sequence;
    uint64_t timestamp_ns;
    unsigned publisher;
    Py_ssize_t exports; /* buffers of an in-place record handed out and not released yet */
    PyObject* view;     /* the memoryview .payload returns (in place: released when stale) */
};

extern PyTypeObject shmbus_py_SubscriberType;
extern PyTypeObject shmbus_py_RecordType;

/* The handle, or NULL with shmbus.Closed (or a "used by another thread" error) raised. */
shmbus_subscriber* shmbus_py_subscriber_handle(shmbus_py_subscriber* self);
/* Moves past the record handed out in place: releases its memoryview, refuses (raising
 * shmbus.BufferInUseError, returning false) while other buffers of it are alive, marks it stale
 * and advances the C subscriber. */
bool shmbus_py_subscriber_release_current(shmbus_py_subscriber* self);
/* Peeks the next record and hands it out in place: a new Record, Py_None if there is none now,
 * NULL with an exception set. Call after shmbus_py_subscriber_release_current. */
PyObject* shmbus_py_subscriber_take(shmbus_py_subscriber* self);

/* ---- wait.c ------------------------------------------------------------------------------ */

/* Subscriber methods (listed in subscriber.c's method table). */
PyObject* shmbus_py_subscriber_wait(PyObject* self, PyObject* args, PyObject* kwargs);
PyObject* shmbus_py_subscriber_receive(PyObject* self, PyObject* args, PyObject* kwargs);
PyObject* shmbus_py_subscriber_fileno(PyObject* self, PyObject* unused);
PyObject* shmbus_py_subscriber_arm(PyObject* self, PyObject* unused);
PyObject* shmbus_py_subscriber_ready(PyObject* self, PyObject* unused);
/* tp_iternext: the next record in place, waiting as long as it takes. */
PyObject* shmbus_py_subscriber_next(PyObject* self);

#endif /* SHMBUS_PYTHON_H */
