/* shmbus.Publisher and shmbus.Claim: copying records in, and writing them in place.
 *
 * A Claim exports the claimed bytes in the ring as a writable buffer and counts the buffers it
 * handed out. Commit and abort first release the memoryview .payload (and `with ... as buf`)
 * returned, then refuse with BufferInUseError, leaving the claim pending, while any other buffer
 * is alive: once committed, the bytes belong to subscribers, and a live numpy array or slice
 * would write into them. After the end, the memoryview is released (using it raises ValueError)
 * and new buffers are refused: nothing written through Python reaches the ring any more. */
#include <time.h>

#include "shmbus_python.h"

#define SLICE_NS INT64_C(100000000)

static int64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * INT64_C(1000000000) + now.tv_nsec;
}

static shmbus_publisher* publisher_handle(shmbus_py_publisher* self) {
    if (self->handle == NULL) {
        shmbus_py_raise_message(shmbus_py_ClosedError, "the publisher is closed");
        return NULL;
    }
    if (self->busy) {
        shmbus_py_raise_message(shmbus_py_Error,
                                "the publisher is waiting in another thread: a publisher is used "
                                "by one thread at a time (open one per thread)");
        return NULL;
    }
    return self->handle;
}

/* One attempt that may wait up to slice_ns: an offer, a batch, a claim. */
typedef int (*attempt)(shmbus_publisher* handle, void* context, int64_t slice_ns);

/* Tries once with the GIL held and without waiting; while back-pressured, waits in slices with
 * the GIL released until timeout_ns (negative: forever). Returns a status, or INT_MIN when a
 * signal handler raised. */
static int with_back_pressure(shmbus_py_publisher* self, attempt try_once, void* context,
                              int64_t timeout_ns) {
    int status = try_once(self->handle, context, 0);
    if (status != SHMBUS_E_BACK_PRESSURED && status != SHMBUS_E_TIMED_OUT) return status;
    if (timeout_ns == 0) return SHMBUS_E_TIMED_OUT;
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        int64_t left = timeout_ns < 0 ? SLICE_NS : deadline - now_ns();
        if (left < 0) left = 0;
        const int64_t slice = left < SLICE_NS ? left : SLICE_NS;
        shmbus_publisher* handle = self->handle;
        self->busy = true;
        Py_BEGIN_ALLOW_THREADS;
        status = try_once(handle, context, slice);
        Py_END_ALLOW_THREADS;
        self->busy = false;
        if (status != SHMBUS_E_TIMED_OUT && status != SHMBUS_E_BACK_PRESSURED) return status;
        if (PyErr_CheckSignals() < 0) return INT_MIN;
        if (timeout_ns >= 0 && now_ns() >= deadline) return SHMBUS_E_TIMED_OUT;
    }
}

/* ---- Claim ------------------------------------------------------------------------------- */

static PyObject* claim_ended(void) {
    return shmbus_py_raise_message(shmbus_py_exception(SHMBUS_E_NO_CLAIM),
                                   "the claim was committed or aborted: its payload is no "
                                   "longer yours to write");
}

static int claim_getbuffer(PyObject* object, Py_buffer* view, int flags) {
    shmbus_py_claim* self = (shmbus_py_claim*)object;
    if (self->payload == NULL) {
        view->obj = NULL;
        claim_ended();
        return -1;
    }
    static char empty[1];
    void* bytes = self->length == 0 ? empty : self->payload;
    if (PyBuffer_FillInfo(view, object, bytes, (Py_ssize_t)self->length, 0, flags) < 0) {
        return -1;
    }
    ++self->exports;
    return 0;
}

static void claim_releasebuffer(PyObject* object, Py_buffer* view) {
    (void)view;
    --((shmbus_py_claim*)object)->exports;
}

static PyBufferProcs claim_buffer_procs = {
    .bf_getbuffer = claim_getbuffer,
    .bf_releasebuffer = claim_releasebuffer,
};

/* Releases the claim's memoryview; false (BufferInUseError) while other buffers are alive. */
static bool claim_release_buffers(shmbus_py_claim* self) {
    if (self->view != NULL) {
        PyObject* released = PyObject_CallMethod(self->view, "release", NULL);
        if (released == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_BufferError)) return false;
            PyErr_Clear();
        } else {
            Py_DECREF(released);
            Py_CLEAR(self->view);
        }
    }
    if (self->exports > 0) {
        shmbus_py_raise_message(shmbus_py_BufferInUseError,
                                "the claim stays pending: %zd buffer(s) of its payload (a "
                                "memoryview slice, a numpy array, ...) are still alive and could "
                                "write into the ring after it ends; drop them, then commit() or "
                                "abort() again",
                                self->exports);
        return false;
    }
    return true;
}

/* Commits (commit true) or aborts the pending claim. */
static PyObject* claim_end(shmbus_py_claim* self, bool commit) {
    if (self->payload == NULL) return claim_ended();
    shmbus_publisher* handle = publisher_handle(self->publisher);
    if (handle == NULL || !claim_release_buffers(self)) return NULL;
    int status = commit ? shmbus_publisher_commit(handle) : shmbus_publisher_abort(handle);
    self->payload = NULL;
    if (self->publisher->claim == self) self->publisher->claim = NULL;
    if (status != SHMBUS_OK) return shmbus_py_raise(status);
    Py_RETURN_NONE;
}

static PyObject* claim_commit(PyObject* object, PyObject* unused) {
    (void)unused;
    return claim_end((shmbus_py_claim*)object, true);
}

static PyObject* claim_abort(PyObject* object, PyObject* unused) {
    (void)unused;
    return claim_end((shmbus_py_claim*)object, false);
}

static PyObject* claim_get_payload(PyObject* object, void* closure) {
    (void)closure;
    shmbus_py_claim* self = (shmbus_py_claim*)object;
    if (self->payload == NULL) return claim_ended();
    if (self->view == NULL) {
        self->view = PyMemoryView_FromObject(object);
        if (self->view == NULL) return NULL;
    }
    return Py_NewRef(self->view);
}

static PyObject* claim_get_pending(PyObject* object, void* closure) {
    (void)closure;
    return PyBool_FromLong(((shmbus_py_claim*)object)->payload != NULL);
}

static PyObject* claim_enter(PyObject* object, PyObject* unused) {
    (void)unused;
    return claim_get_payload(object, NULL);
}

static PyObject* claim_exit(PyObject* object, PyObject* args) {
    PyObject* type = PyTuple_GET_ITEM(args, 0);
    shmbus_py_claim* self = (shmbus_py_claim*)object;
    if (self->payload == NULL) Py_RETURN_FALSE; /* ended inside the block */
    PyObject* result = claim_end(self, type == Py_None);
    if (result == NULL) return NULL;
    Py_DECREF(result);
    Py_RETURN_FALSE;
}

static Py_ssize_t claim_length(PyObject* object) {
    return (Py_ssize_t)((shmbus_py_claim*)object)->length;
}

static int claim_traverse(PyObject* object, visitproc visit, void* arg) {
    shmbus_py_claim* self = (shmbus_py_claim*)object;
    Py_VISIT(self->view);
    Py_VISIT(self->publisher);
    return 0;
}

static int claim_clear(PyObject* object) {
    shmbus_py_claim* self = (shmbus_py_claim*)object;
    Py_CLEAR(self->view);
    return 0;
}

static void claim_dealloc(PyObject* object) {
    shmbus_py_claim* self = (shmbus_py_claim*)object;
    PyObject_GC_UnTrack(object);
    Py_CLEAR(self->view);
    if (self->payload != NULL && self->publisher->handle != NULL) {
        /* Dropped without an end: nobody can write it any more, so give it up. */
        shmbus_publisher_abort(self->publisher->handle);
    }
    if (self->publisher != NULL && self->publisher->claim == self) self->publisher->claim = NULL;
    Py_CLEAR(self->publisher);
    Py_TYPE(object)->tp_free(object);
}

static PyMethodDef claim_methods[] = {
    {"commit", claim_commit, METH_NOARGS,
     "commit() -> None\n\nPublishes the claim. Raises BufferInUseError (the claim stays pending)\n"
     "while buffers of the payload other than .payload itself are alive."},
    {"abort", claim_abort, METH_NOARGS,
     "abort() -> None\n\nGives the claim up: subscribers skip it."},
    {"__enter__", claim_enter, METH_NOARGS, "Returns .payload, the writable memoryview."},
    {"__exit__", claim_exit, METH_VARARGS,
     "Commits on a normal exit, aborts when the block raised; releases the memoryview."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef claim_getset[] = {
    {"payload", claim_get_payload, NULL,
     "A writable memoryview of the claimed bytes in the ring, released when the claim ends.", NULL},
    {"pending", claim_get_pending, NULL, "True until commit() or abort().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods claim_sequence = {.sq_length = claim_length};

PyTypeObject shmbus_py_ClaimType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbus.Claim",
    .tp_basicsize = sizeof(shmbus_py_claim),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "Room for one record in the ring, written in place (Publisher.claim()).\n\n"
        "    with publisher.claim(8) as buf:\n"
        "        buf[:] = b'in place'\n\n"
        "commits on a normal exit and aborts if the block raises. It supports the\n"
        "buffer protocol (writable) until it ends.",
    .tp_dealloc = claim_dealloc,
    .tp_traverse = claim_traverse,
    .tp_clear = claim_clear,
    .tp_as_buffer = &claim_buffer_procs,
    .tp_as_sequence = &claim_sequence,
    .tp_methods = claim_methods,
    .tp_getset = claim_getset,
};

/* ---- Publisher --------------------------------------------------------------------------- */

static int publisher_init(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    static char* keywords[] = {"topic", "spin_ns", NULL};
    PyObject* topic = NULL;
    long long spin_ns = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$L:Publisher", keywords, &topic, &spin_ns)) {
        return -1;
    }
    if (self->handle != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the publisher is open already");
        return -1;
    }
    shmbus_topic* topic_handle = shmbus_py_topic_handle(topic);
    if (topic_handle == NULL) return -1;
    shmbus_publisher_options options;
    shmbus_publisher_options_init(&options);
    if (spin_ns >= 0) options.spin_ns = spin_ns;
    int status = shmbus_publisher_open(topic_handle, &options, &self->handle);
    if (status != SHMBUS_OK) {
        shmbus_py_raise(status);
        return -1;
    }
    return 0;
}

static void publisher_dealloc(PyObject* object) {
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    /* A pending Claim holds a reference to its publisher: none is left. */
    shmbus_publisher_close(&self->handle);
    Py_TYPE(object)->tp_free(object);
}

typedef struct {
    const void* data;
    size_t length;
} offer_context;

static int offer_once(shmbus_publisher* handle, void* context, int64_t slice_ns) {
    offer_context* offer = context;
    return slice_ns == 0 ? shmbus_publisher_try_offer(handle, offer->data, offer->length)
                         : shmbus_publisher_offer(handle, offer->data, offer->length, slice_ns);
}

static PyObject* publisher_publish(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    static char* keywords[] = {"data", "timeout", NULL};
    Py_buffer data;
    PyObject* timeout = Py_None;
    int64_t timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|O:publish", keywords, &data, &timeout)) {
        return NULL;
    }
    PyObject* result = NULL;
    if (shmbus_py_timeout_ns(timeout, &timeout_ns) && publisher_handle(self) != NULL) {
        offer_context offer = {data.buf, (size_t)data.len};
        int status = with_back_pressure(self, offer_once, &offer, timeout_ns);
        if (status == SHMBUS_OK) {
            result = Py_NewRef(Py_None);
        } else if (status != INT_MIN) {
            shmbus_py_raise(status);
        }
    }
    PyBuffer_Release(&data);
    return result;
}

static PyObject* publisher_try_publish(PyObject* object, PyObject* args) {
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*:try_publish", &data)) return NULL;
    PyObject* result = NULL;
    shmbus_publisher* handle = publisher_handle(self);
    if (handle != NULL) {
        int status = shmbus_publisher_try_offer(handle, data.buf, (size_t)data.len);
        if (status == SHMBUS_OK) {
            result = Py_NewRef(Py_True);
        } else if (status == SHMBUS_E_BACK_PRESSURED) {
            result = Py_NewRef(Py_False);
        } else {
            shmbus_py_raise(status);
        }
    }
    PyBuffer_Release(&data);
    return result;
}

typedef struct {
    shmbus_buffer* records;
    size_t count;
    size_t published; /* over all attempts */
} batch_context;

static int batch_once(shmbus_publisher* handle, void* context, int64_t slice_ns) {
    batch_context* batch = context;
    size_t published = 0;
    int status =
        slice_ns == 0
            ? shmbus_publisher_try_offer_batch(handle, batch->records + batch->published,
                                               batch->count - batch->published, &published)
            : shmbus_publisher_offer_batch(handle, batch->records + batch->published,
                                           batch->count - batch->published, slice_ns, &published);
    batch->published += published;
    if (status == SHMBUS_OK && batch->published < batch->count) return SHMBUS_E_BACK_PRESSURED;
    return status;
}

static PyObject* publisher_publish_batch(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    static char* keywords[] = {"records", "timeout", NULL};
    PyObject* iterable = NULL;
    PyObject* timeout = Py_None;
    int64_t timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:publish_batch", keywords, &iterable,
                                     &timeout) ||
        !shmbus_py_timeout_ns(timeout, &timeout_ns) || publisher_handle(self) == NULL) {
        return NULL;
    }
    PyObject* sequence = PySequence_Fast(iterable, "publish_batch takes an iterable of buffers");
    if (sequence == NULL) return NULL;
    const Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
    Py_buffer* buffers = PyMem_Calloc((size_t)count + 1, sizeof(Py_buffer));
    shmbus_buffer* records = PyMem_Calloc((size_t)count + 1, sizeof(shmbus_buffer));
    Py_ssize_t held = 0;
    PyObject* result = NULL;
    if (buffers == NULL || records == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; held < count; ++held) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(sequence, held), &buffers[held],
                               PyBUF_SIMPLE) < 0) {
            goto done;
        }
        records[held].data = buffers[held].buf;
        records[held].length = (size_t)buffers[held].len;
    }
    batch_context batch = {records, (size_t)count, 0};
    int status = count == 0 ? SHMBUS_OK : with_back_pressure(self, batch_once, &batch, timeout_ns);
    if (status == SHMBUS_OK) {
        result = PyLong_FromSize_t(batch.published);
    } else if (status != INT_MIN) {
        shmbus_py_raise(status);
        /* Say how many made it before the failure. */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        PyObject* published = PyLong_FromSize_t(batch.published);
        if (value != NULL && published != NULL) {
            PyObject_SetAttrString(value, "published", published);
        }
        Py_XDECREF(published);
        PyErr_Restore(type, value, traceback);
    }
done:
    for (Py_ssize_t i = 0; i < held; ++i)
        PyBuffer_Release(&buffers[i]);
    PyMem_Free(buffers);
    PyMem_Free(records);
    Py_DECREF(sequence);
    return result;
}

typedef struct {
    size_t length;
    void* payload;
} claim_context;

static int claim_once(shmbus_publisher* handle, void* context, int64_t slice_ns) {
    claim_context* claim = context;
    return slice_ns == 0 ? shmbus_publisher_try_claim(handle, claim->length, &claim->payload)
                         : shmbus_publisher_claim(handle, claim->length, slice_ns, &claim->payload);
}

static PyObject* publisher_claim(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    static char* keywords[] = {"length", "timeout", NULL};
    Py_ssize_t length = 0;
    PyObject* timeout = Py_None;
    int64_t timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n|O:claim", keywords, &length, &timeout) ||
        !shmbus_py_timeout_ns(timeout, &timeout_ns) || publisher_handle(self) == NULL) {
        return NULL;
    }
    if (length < 0) {
        PyErr_SetString(PyExc_ValueError, "length must be >= 0");
        return NULL;
    }
    shmbus_py_claim* claim = PyObject_GC_New(shmbus_py_claim, &shmbus_py_ClaimType);
    if (claim == NULL) return NULL;
    claim->publisher = (shmbus_py_publisher*)Py_NewRef(object);
    claim->length = (size_t)length;
    claim->payload = NULL;
    claim->exports = 0;
    claim->view = NULL;
    PyObject_GC_Track((PyObject*)claim);
    claim_context context = {(size_t)length, NULL};
    int status = with_back_pressure(self, claim_once, &context, timeout_ns);
    if (status != SHMBUS_OK) {
        Py_DECREF(claim);
        return status == INT_MIN ? NULL : shmbus_py_raise(status);
    }
    claim->payload = context.payload;
    self->claim = claim;
    return (PyObject*)claim;
}

static PyObject* publisher_close(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    if (self->handle == NULL) Py_RETURN_NONE;
    if (publisher_handle(self) == NULL) return NULL;
    shmbus_py_claim* claim = self->claim;
    if (claim != NULL) {
        /* Closing aborts the pending claim: only if nothing can write it any more. */
        if (!claim_release_buffers(claim)) return NULL;
        claim->payload = NULL;
        self->claim = NULL;
    }
    shmbus_publisher_close(&self->handle);
    Py_RETURN_NONE;
}

static PyObject* publisher_flush(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_publisher* self = (shmbus_py_publisher*)object;
    shmbus_publisher* handle = publisher_handle(self);
    if (handle == NULL) return NULL;
    int status;
    /* A disk write: other threads run meanwhile; busy keeps them off this publisher. */
    self->busy = true;
    Py_BEGIN_ALLOW_THREADS;
    status = shmbus_publisher_flush(handle);
    Py_END_ALLOW_THREADS;
    self->busy = false;
    if (status != SHMBUS_OK) return shmbus_py_raise(status);
    Py_RETURN_NONE;
}

static PyObject* publisher_enter(PyObject* object, PyObject* unused) {
    (void)unused;
    if (publisher_handle((shmbus_py_publisher*)object) == NULL) return NULL;
    return Py_NewRef(object);
}

static PyObject* publisher_exit(PyObject* object, PyObject* args) {
    (void)args;
    return publisher_close(object, NULL);
}

static PyObject* publisher_get_closed(PyObject* object, void* closure) {
    (void)closure;
    return PyBool_FromLong(((shmbus_py_publisher*)object)->handle == NULL);
}

static PyMethodDef publisher_methods[] = {
    {"publish", (PyCFunction)(void (*)(void))publisher_publish, METH_VARARGS | METH_KEYWORDS,
     "publish(data, timeout=None) -> None\n\n"
     "Copies one record (bytes, bytearray, memoryview, any buffer) into the topic. In a block\n"
     "topic whose slowest subscriber is a ring behind, waits with the GIL released, up to\n"
     "timeout seconds (None: forever): Timeout. TooLarge past max_record_size."},
    {"try_publish", publisher_try_publish, METH_VARARGS,
     "try_publish(data) -> bool\n\n"
     "Copies one record without waiting: False if back-pressured (nothing published). Other\n"
     "failures raise."},
    {"publish_batch", (PyCFunction)(void (*)(void))publisher_publish_batch,
     METH_VARARGS | METH_KEYWORDS,
     "publish_batch(records, timeout=None) -> int\n\n"
     "Copies every buffer of the iterable, one claim per 64 records, waiting up to timeout for\n"
     "the whole batch; returns how many (all). On Timeout, the exception's .published says\n"
     "how many made it."},
    {"claim", (PyCFunction)(void (*)(void))publisher_claim, METH_VARARGS | METH_KEYWORDS,
     "claim(length, timeout=None) -> Claim\n\n"
     "Claims room for a record of length bytes in the ring (waiting while back-pressured) to\n"
     "write in place: `with publisher.claim(n) as buf:` commits at the end of the block, or\n"
     "aborts if it raised. One claim at a time: ClaimPending otherwise."},
    {"flush", publisher_flush, METH_NOARGS,
     "flush() -> None\n\n"
     "Writes the topic's records back to its file and waits: every record committed before the\n"
     "call is then on the file (for a bus directory on a disk; a tmpfs has no file beneath).\n"
     "Releases the GIL while the disk writes."},
    {"close", publisher_close, METH_NOARGS,
     "close() -> None\n\nAborts a pending claim and detaches. Again: nothing."},
    {"__enter__", publisher_enter, METH_NOARGS, "Returns the publisher."},
    {"__exit__", publisher_exit, METH_VARARGS, "Closes the publisher."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef publisher_getset[] = {
    {"closed", publisher_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject shmbus_py_PublisherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbus.Publisher",
    .tp_basicsize = sizeof(shmbus_py_publisher),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Publisher(topic, *, spin_ns=20000)\n\n"
        "Attaches a publisher to a topic opened for publishing (PermissionDenied for one\n"
        "opened with access='subscribe'). Any number of publishers, in any threads and\n"
        "processes, publish to one topic; each is used by one thread at a time.",
    .tp_new = PyType_GenericNew,
    .tp_init = publisher_init,
    .tp_dealloc = publisher_dealloc,
    .tp_methods = publisher_methods,
    .tp_getset = publisher_getset,
};
