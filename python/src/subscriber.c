/* shmbus.Subscriber and shmbus.Record: records in place, and how long they stay valid.
 *
 * A subscriber hands out one record in place at a time: the one shmbus_subscriber_peek returned,
 * not yet advanced past. Its Record exports the bytes in the ring through the buffer protocol
 * and counts the buffers it handed out. The subscriber moves past it (advance) only when asked
 * for more (next(), receive(), poll(), wait(), arm(), ready(), close()), and only if no buffer
 * of it is alive any more: it first releases the memoryview that .payload returned (a variable
 * still naming it then holds a released memoryview, which raises ValueError on use), then
 * refuses with BufferInUseError while anything else holds a buffer (a slice, a numpy array),
 * since those would read bytes that publishers may overwrite. Once past, the Record is stale:
 * its metadata stays, its payload raises StaleRecordError.
 *
 * poll() copies: each of its records owns a bytes object, valid for as long as it lives. */
#include <string.h>

#include "shmbus_python.h"

/* ---- Record ------------------------------------------------------------------------------ */

static bool record_in_place(const shmbus_py_record* self) {
    return self->owned == NULL;
}

static const char* const kStaleMessage =
    "record %llu is stale: its subscriber moved past it (next(), receive(), poll(), wait() or "
    "close()); copy the payload (bytes(record.payload)) before asking for the next record";

static int record_getbuffer(PyObject* object, Py_buffer* view, int flags) {
    shmbus_py_record* self = (shmbus_py_record*)object;
    if (!record_in_place(self)) {
        return PyBuffer_FillInfo(view, object, PyBytes_AS_STRING(self->owned),
                                 PyBytes_GET_SIZE(self->owned), 1, flags);
    }
    if (self->payload == NULL) {
        view->obj = NULL;
        shmbus_py_raise_message(shmbus_py_StaleRecordError, kStaleMessage,
                                (unsigned long long)self->sequence);
        return -1;
    }
    static char empty[1];
    void* bytes = self->length == 0 ? empty : (void*)self->payload;
    if (PyBuffer_FillInfo(view, object, bytes, (Py_ssize_t)self->length, 1, flags) < 0) {
        return -1;
    }
    ++self->exports;
    return 0;
}

static void record_releasebuffer(PyObject* object, Py_buffer* view) {
    (void)view;
    shmbus_py_record* self = (shmbus_py_record*)object;
    if (record_in_place(self)) --self->exports;
}

static PyBufferProcs record_buffer_procs = {
    .bf_getbuffer = record_getbuffer,
    .bf_releasebuffer = record_releasebuffer,
};

static int record_traverse(PyObject* object, visitproc visit, void* arg) {
    shmbus_py_record* self = (shmbus_py_record*)object;
    Py_VISIT(self->view);
    Py_VISIT(self->subscriber);
    return 0;
}

/* Breaks the cycle record -> view -> record. The subscriber stays referenced until the record
 * is freed: it keeps the ring mapped for any buffer still pointing into it. */
static int record_clear(PyObject* object) {
    Py_CLEAR(((shmbus_py_record*)object)->view);
    return 0;
}

static void record_dealloc(PyObject* object) {
    shmbus_py_record* self = (shmbus_py_record*)object;
    PyObject_GC_UnTrack(object);
    Py_CLEAR(self->view);
    if (self->subscriber != NULL && self->subscriber->current == self) {
        self->subscriber->current = NULL;
    }
    Py_CLEAR(self->subscriber);
    Py_CLEAR(self->owned);
    Py_TYPE(object)->tp_free(object);
}

static PyObject* record_get_payload(PyObject* object, void* closure) {
    (void)closure;
    shmbus_py_record* self = (shmbus_py_record*)object;
    if (!record_in_place(self)) return PyMemoryView_FromObject(self->owned);
    if (self->payload == NULL) {
        return shmbus_py_raise_message(shmbus_py_StaleRecordError, kStaleMessage,
                                       (unsigned long long)self->sequence);
    }
    if (self->view == NULL) {
        self->view = PyMemoryView_FromObject(object);
        if (self->view == NULL) return NULL;
    }
    return Py_NewRef(self->view);
}

static PyObject* record_get_stale(PyObject* object, void* closure) {
    (void)closure;
    shmbus_py_record* self = (shmbus_py_record*)object;
    return PyBool_FromLong(record_in_place(self) && self->payload == NULL);
}

static PyObject* record_get_in_place(PyObject* object, void* closure) {
    (void)closure;
    return PyBool_FromLong(record_in_place((shmbus_py_record*)object));
}

static PyObject* record_bytes(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_record* self = (shmbus_py_record*)object;
    if (!record_in_place(self)) return Py_NewRef(self->owned);
    if (self->payload == NULL) {
        return shmbus_py_raise_message(shmbus_py_StaleRecordError, kStaleMessage,
                                       (unsigned long long)self->sequence);
    }
    return PyBytes_FromStringAndSize(self->payload, (Py_ssize_t)self->length);
}

static Py_ssize_t record_length(PyObject* object) {
    return (Py_ssize_t)((shmbus_py_record*)object)->length;
}

static PyObject* record_repr(PyObject* object) {
    shmbus_py_record* self = (shmbus_py_record*)object;
    const char* state = !record_in_place(self) ? "copy" : self->payload ? "in place" : "stale";
    return PyUnicode_FromFormat("<shmbus.Record sequence=%llu position=%llu length=%zu %s>",
                                (unsigned long long)self->sequence,
                                (unsigned long long)self->position, self->length, state);
}

static PyMethodDef record_methods[] = {
    {"__bytes__", record_bytes, METH_NOARGS,
     "bytes(record): a copy of the payload, which stays valid."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef record_members[] = {
    {"sequence", T_ULONGLONG, offsetof(shmbus_py_record, sequence), READONLY,
     "Topic-wide sequence number, one more per claim."},
    {"timestamp_ns", T_ULONGLONG, offsetof(shmbus_py_record, timestamp_ns), READONLY,
     "CLOCK_REALTIME at claim in nanoseconds, 0 in a topic without timestamps."},
    {"position", T_ULONGLONG, offsetof(shmbus_py_record, position), READONLY,
     "Where the record's frame starts in the topic."},
    {"next_position", T_ULONGLONG, offsetof(shmbus_py_record, next_position), READONLY,
     "Where the next frame starts: Subscriber(topic, start=next_position) resumes after it."},
    {"publisher", T_UINT, offsetof(shmbus_py_record, publisher), READONLY,
     "The slot of the publisher that wrote it."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef record_getset[] = {
    {"payload", record_get_payload, NULL,
     "A read-only memoryview of the payload. In place (next(), receive(), iteration) it is the\n"
     "bytes in the ring, valid until the subscriber moves past the record: the memoryview is\n"
     "released then, and asking again raises StaleRecordError. poll()'s records own a copy.",
     NULL},
    {"stale", record_get_stale, NULL, "True once the subscriber moved past a record in place.",
     NULL},
    {"in_place", record_get_in_place, NULL,
     "True for a record in the ring (zero-copy), False for poll()'s copies.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods record_sequence = {.sq_length = record_length};

PyTypeObject shmbus_py_RecordType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbus.Record",
    .tp_basicsize = sizeof(shmbus_py_record),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "One record a Subscriber delivered: .payload (a read-only memoryview), .sequence,\n"
        ".timestamp_ns, .position, .next_position, .publisher; len() is the payload's\n"
        "length. It supports the buffer protocol (numpy.frombuffer(record) is zero-copy)\n"
        "and bytes(record) copies. Made by subscribers only.",
    .tp_dealloc = record_dealloc,
    .tp_traverse = record_traverse,
    .tp_clear = record_clear,
    .tp_repr = record_repr,
    .tp_as_buffer = &record_buffer_procs,
    .tp_as_sequence = &record_sequence,
    .tp_methods = record_methods,
    .tp_members = record_members,
    .tp_getset = record_getset,
};

static shmbus_py_record* record_new(const shmbus_record* record) {
    shmbus_py_record* self = PyObject_GC_New(shmbus_py_record, &shmbus_py_RecordType);
    if (self == NULL) return NULL;
    self->subscriber = NULL;
    self->owned = NULL;
    self->payload = record->payload;
    self->length = record->length;
    self->position = record->position;
    self->next_position = record->next_position;
    self->sequence = record->sequence;
    self->timestamp_ns = record->timestamp_ns;
    self->publisher = record->publisher;
    self->exports = 0;
    self->view = NULL;
    return self;
}

/* ---- Subscriber -------------------------------------------------------------------------- */

shmbus_subscriber* shmbus_py_subscriber_handle(shmbus_py_subscriber* self) {
    if (self->handle == NULL) {
        shmbus_py_raise_message(shmbus_py_ClosedError, "the subscriber is closed");
        return NULL;
    }
    if (self->busy) {
        shmbus_py_raise_message(shmbus_py_Error,
                                "the subscriber is waiting in another thread: a subscriber is "
                                "used by one thread at a time (open one per thread)");
        return NULL;
    }
    return self->handle;
}

bool shmbus_py_subscriber_release_current(shmbus_py_subscriber* self) {
    if (!self->peeked) return true;
    shmbus_py_record* record = self->current;
    if (record != NULL) {
        if (record->view != NULL) {
            PyObject* released = PyObject_CallMethod(record->view, "release", NULL);
            if (released == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_BufferError)) return false;
                PyErr_Clear();
                shmbus_py_raise_message(
                    shmbus_py_BufferInUseError,
                    "cannot move past record %llu: a buffer taken from its payload (a numpy "
                    "array, ...) is still alive and would read bytes publishers may overwrite; "
                    "drop it or copy it (bytes(...), array.copy()) first",
                    (unsigned long long)record->sequence);
                return false;
            }
            Py_DECREF(released);
            Py_CLEAR(record->view);
        }
        if (record->exports > 0) {
            shmbus_py_raise_message(
                shmbus_py_BufferInUseError,
                "cannot move past record %llu: %zd buffer(s) of its payload (a memoryview slice, "
                "a numpy array, ...) still alive would read bytes publishers may overwrite; drop "
                "them or copy them (bytes(...), array.copy()) first",
                (unsigned long long)record->sequence, record->exports);
            return false;
        }
        record->payload = NULL; /* stale from now on */
        self->current = NULL;
        Py_CLEAR(record->subscriber); /* the caller holds a reference to self */
    }
    shmbus_subscriber_advance(self->handle);
    self->peeked = false;
    return true;
}

/* Peeks past corrupt frames (counted in the counters) to a record, or none. */
static int peek(shmbus_subscriber* handle, const shmbus_record** record) {
    int status = SHMBUS_E_CORRUPT;
    for (int tries = 0; tries < 64 && status == SHMBUS_E_CORRUPT; ++tries) {
        status = shmbus_subscriber_peek(handle, record);
    }
    return status;
}

PyObject* shmbus_py_subscriber_take(shmbus_py_subscriber* self) {
    const shmbus_record* record = NULL;
    int status = peek(self->handle, &record);
    if (status < 0) return shmbus_py_raise(status);
    if (status == 0 || record == NULL) Py_RETURN_NONE;
    self->peeked = true;
    shmbus_py_record* out = record_new(record);
    if (out == NULL) return NULL;
    out->subscriber = (shmbus_py_subscriber*)Py_NewRef((PyObject*)self);
    self->current = out;
    PyObject_GC_Track((PyObject*)out);
    return (PyObject*)out;
}

static int subscriber_init(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    static char* keywords[] = {"topic", "start", "next_sequence", "spin_ns", NULL};
    PyObject* topic = NULL;
    PyObject* start = NULL;
    PyObject* next_sequence = Py_None;
    long long spin_ns = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$OL:Subscriber", keywords, &topic, &start,
                                     &next_sequence, &spin_ns)) {
        return -1;
    }
    if (self->handle != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the subscriber is open already");
        return -1;
    }
    shmbus_topic* topic_handle = shmbus_py_topic_handle(topic);
    if (topic_handle == NULL) return -1;
    shmbus_subscriber_options options;
    shmbus_subscriber_options_init(&options);
    if (spin_ns >= 0) options.spin_ns = spin_ns;
    if (start == NULL || start == Py_None) {
        options.start = SHMBUS_START_LATEST;
    } else if (PyUnicode_Check(start)) {
        if (PyUnicode_CompareWithASCIIString(start, "latest") == 0) {
            options.start = SHMBUS_START_LATEST;
        } else if (PyUnicode_CompareWithASCIIString(start, "earliest") == 0) {
            options.start = SHMBUS_START_EARLIEST;
        } else {
            PyErr_Format(PyExc_ValueError,
                         "start must be 'latest', 'earliest' or a position, not '%U'", start);
            return -1;
        }
    } else if (PyLong_Check(start)) {
        options.start = SHMBUS_START_POSITION;
        options.position = PyLong_AsUnsignedLongLong(start);
        if (PyErr_Occurred()) return -1;
        if (next_sequence != Py_None) {
            options.has_sequence = true;
            options.next_sequence = PyLong_AsUnsignedLongLong(next_sequence);
            if (PyErr_Occurred()) return -1;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "start must be 'latest', 'earliest' or an int, not %.100s",
                     Py_TYPE(start)->tp_name);
        return -1;
    }
    int status = shmbus_subscriber_open(topic_handle, &options, &self->handle);
    if (status != SHMBUS_OK) {
        shmbus_py_raise(status);
        return -1;
    }
    return 0;
}

static void subscriber_dealloc(PyObject* object) {
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    /* A record in place holds a reference to its subscriber: none is left. */
    shmbus_subscriber_close(&self->handle);
    Py_TYPE(object)->tp_free(object);
}

static PyObject* subscriber_close(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    if (self->handle == NULL) Py_RETURN_NONE;
    if (shmbus_py_subscriber_handle(self) == NULL) return NULL;
    if (!shmbus_py_subscriber_release_current(self)) return NULL;
    shmbus_subscriber_close(&self->handle);
    Py_RETURN_NONE;
}

static PyObject* subscriber_poll(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    static char* keywords[] = {"max_records", NULL};
    Py_ssize_t max_records = 256;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|n:poll", keywords, &max_records)) {
        return NULL;
    }
    if (max_records < 0) {
        PyErr_SetString(PyExc_ValueError, "max_records must be >= 0");
        return NULL;
    }
    shmbus_subscriber* handle = shmbus_py_subscriber_handle(self);
    if (handle == NULL || !shmbus_py_subscriber_release_current(self)) return NULL;
    PyObject* list = PyList_New(0);
    if (list == NULL) return NULL;
    while (PyList_GET_SIZE(list) < max_records) {
        const shmbus_record* record = NULL;
        int status = peek(handle, &record);
        if (status < 0) {
            /* Evicted or lost: the next call says so again. Deliver what was read first. */
            if (PyList_GET_SIZE(list) > 0) break;
            Py_DECREF(list);
            return shmbus_py_raise(status);
        }
        if (status == 0 || record == NULL) break;
        shmbus_py_record* copy = record_new(record);
        if (copy == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        copy->payload = NULL;
        copy->owned = PyBytes_FromStringAndSize(record->payload, (Py_ssize_t)record->length);
        shmbus_subscriber_advance(handle);
        PyObject_GC_Track((PyObject*)copy);
        if (copy->owned == NULL || PyList_Append(list, (PyObject*)copy) < 0) {
            Py_DECREF(copy);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(copy);
    }
    return list;
}

static PyObject* subscriber_counters(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    shmbus_subscriber* handle = shmbus_py_subscriber_handle(self);
    if (handle == NULL) return NULL;
    shmbus_subscriber_counters counters;
    shmbus_subscriber_counters_init(&counters);
    int status = shmbus_subscriber_counters_get(handle, &counters);
    if (status != SHMBUS_OK) return shmbus_py_raise(status);
    return Py_BuildValue(
        "{sKsKsKsKsKsKsKsI}", "position", (unsigned long long)counters.position, "next_sequence",
        (unsigned long long)counters.next_sequence, "consumed",
        (unsigned long long)counters.consumed, "lost", (unsigned long long)counters.lost, "voided",
        (unsigned long long)counters.voided, "corrupt", (unsigned long long)counters.corrupt,
        "slot_restorations", (unsigned long long)counters.slot_restorations, "slot", counters.slot);
}

static PyObject* counter(PyObject* object, const char* name) {
    PyObject* counters = subscriber_counters(object, NULL);
    if (counters == NULL) return NULL;
    PyObject* value = PyDict_GetItemString(counters, name);
    Py_XINCREF(value);
    Py_DECREF(counters);
    return value;
}

static PyObject* subscriber_get_consumed(PyObject* object, void* closure) {
    (void)closure;
    return counter(object, "consumed");
}

static PyObject* subscriber_get_lost(PyObject* object, void* closure) {
    (void)closure;
    return counter(object, "lost");
}

static PyObject* subscriber_get_corrupt(PyObject* object, void* closure) {
    (void)closure;
    return counter(object, "corrupt");
}

static PyObject* subscriber_get_position(PyObject* object, void* closure) {
    (void)closure;
    return counter(object, "position");
}

static PyObject* subscriber_get_wake_fd(PyObject* object, void* closure) {
    (void)closure;
    return shmbus_py_subscriber_fileno(object, NULL);
}

static PyObject* subscriber_get_closed(PyObject* object, void* closure) {
    (void)closure;
    return PyBool_FromLong(((shmbus_py_subscriber*)object)->handle == NULL);
}

static PyObject* subscriber_enter(PyObject* object, PyObject* unused) {
    (void)unused;
    if (shmbus_py_subscriber_handle((shmbus_py_subscriber*)object) == NULL) return NULL;
    return Py_NewRef(object);
}

static PyObject* subscriber_exit(PyObject* object, PyObject* args) {
    (void)args;
    return subscriber_close(object, NULL);
}

static PyObject* subscriber_iter(PyObject* object) {
    return Py_NewRef(object);
}

static PyMethodDef subscriber_methods[] = {
    {"receive", (PyCFunction)(void (*)(void))shmbus_py_subscriber_receive,
     METH_VARARGS | METH_KEYWORDS,
     "receive(timeout=None) -> Record | None\n\n"
     "Moves past the current record and returns the next one in place (zero-copy), waiting\n"
     "up to timeout seconds (None: forever, 0: not at all) with the GIL released; None if the\n"
     "timeout passed. next(subscriber) and iteration are receive() without a timeout."},
    {"poll", (PyCFunction)(void (*)(void))subscriber_poll, METH_VARARGS | METH_KEYWORDS,
     "poll(max_records=256) -> list[Record]\n\n"
     "Moves past the current record and returns up to max_records records available now,\n"
     "without waiting. Each owns a copy of its payload (one memcpy each): they stay valid."},
    {"wait", (PyCFunction)(void (*)(void))shmbus_py_subscriber_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> bool\n\n"
     "Moves past the current record, then waits (GIL released) until a record is there: True,\n"
     "or False once timeout seconds passed (None: forever)."},
    {"fileno", shmbus_py_subscriber_fileno, METH_NOARGS,
     "fileno() -> int\n\nThe wake descriptor: readable when the subscriber may have something,\n"
     "once armed (see arm()). For select, selectors and loop.add_reader; never read, write or\n"
     "close it. Owned by the subscriber."},
    {"arm", shmbus_py_subscriber_arm, METH_NOARGS,
     "arm() -> bool\n\nMoves past the current record, then asks publishers to make fileno()\n"
     "readable. True: a record came meanwhile, receive again before waiting; False: the\n"
     "descriptor will become readable. The loop: receive(0) until None, arm(), and if it\n"
     "returned True receive again; else wait for the descriptor."},
    {"ready", shmbus_py_subscriber_ready, METH_NOARGS,
     "ready() -> bool\n\nMoves past the current record; True if a record is there now."},
    {"counters", subscriber_counters, METH_NOARGS,
     "counters() -> dict\n\nposition, next_sequence (save both to resume), consumed, lost\n"
     "(overwritten before they were read), voided, corrupt, slot_restorations, slot."},
    {"close", subscriber_close, METH_NOARGS,
     "close() -> None\n\nMoves past the current record (BufferInUseError if buffers of it are\n"
     "still alive) and detaches. Again: nothing."},
    {"__enter__", subscriber_enter, METH_NOARGS, "Returns the subscriber."},
    {"__exit__", subscriber_exit, METH_VARARGS, "Closes the subscriber."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef subscriber_getset[] = {
    {"consumed", subscriber_get_consumed, NULL, "Records delivered.", NULL},
    {"lost", subscriber_get_lost, NULL, "Records overwritten before they were read.", NULL},
    {"corrupt", subscriber_get_corrupt, NULL, "Frames skipped as corrupt.", NULL},
    {"position", subscriber_get_position, NULL, "The position of the next frame to read.", NULL},
    {"wake_fd", subscriber_get_wake_fd, NULL, "fileno(), as a property.", NULL},
    {"closed", subscriber_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject shmbus_py_SubscriberType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbus.Subscriber",
    .tp_basicsize = sizeof(shmbus_py_subscriber),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Subscriber(topic, start='latest', *, next_sequence=None, spin_ns=20000)\n\n"
        "Reads every record of a topic. start: 'latest' (records published from now on),\n"
        "'earliest' (the oldest still in the ring) or a position saved from\n"
        "record.next_position (with next_sequence, a gap counts as lost).\n"
        "Iterating (for record in subscriber) blocks with the GIL released and yields\n"
        "records in place, each valid until the next one is asked for.\n"
        "Used by one thread at a time.",
    .tp_new = PyType_GenericNew,
    .tp_init = subscriber_init,
    .tp_dealloc = subscriber_dealloc,
    .tp_iter = subscriber_iter,
    .tp_iternext = shmbus_py_subscriber_next,
    .tp_methods = subscriber_methods,
    .tp_getset = subscriber_getset,
};
