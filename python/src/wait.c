/* Waiting for records: with the GIL released, in slices so that signals (Ctrl-C) are seen. */
#include <time.h>

#include "shmbus_python.h"

/* How long one wait without the GIL lasts at most before signals are checked. */
#define SLICE_NS INT64_C(100000000)
/* Returned by wait_released when a signal handler raised. */
#define INTERRUPTED INT_MIN

static int64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * INT64_C(1000000000) + now.tv_nsec;
}

/* shmbus_subscriber_wait for up to timeout_ns (negative: forever), the GIL released. */
static int wait_released(shmbus_py_subscriber* self, int64_t timeout_ns) {
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        int64_t left = timeout_ns < 0 ? SLICE_NS : deadline - now_ns();
        if (left < 0) left = 0;
        const int64_t slice = left < SLICE_NS ? left : SLICE_NS;
        int status;
        shmbus_subscriber* handle = self->handle;
        self->busy = true;
        Py_BEGIN_ALLOW_THREADS;
        status = shmbus_subscriber_wait(handle, slice);
        Py_END_ALLOW_THREADS;
        self->busy = false;
        if (status != SHMBUS_E_TIMED_OUT) return status;
        if (PyErr_CheckSignals() < 0) return INTERRUPTED;
        if (timeout_ns >= 0 && now_ns() >= deadline) return SHMBUS_E_TIMED_OUT;
    }
}

/* Moves past the current record and returns the next in place, waiting up to timeout_ns. */
static PyObject* receive(shmbus_py_subscriber* self, int64_t timeout_ns) {
    if (shmbus_py_subscriber_handle(self) == NULL || !shmbus_py_subscriber_release_current(self)) {
        return NULL;
    }
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        PyObject* record = shmbus_py_subscriber_take(self);
        if (record != Py_None) return record;
        Py_DECREF(record);
        int64_t left = timeout_ns < 0 ? -1 : deadline - now_ns();
        if (timeout_ns >= 0 && left <= 0) Py_RETURN_NONE;
        int status = wait_released(self, left);
        if (status == INTERRUPTED) return NULL;
        if (status == SHMBUS_E_TIMED_OUT) continue; /* one last look, then None */
        if (status != SHMBUS_OK) return shmbus_py_raise(status);
    }
}

PyObject* shmbus_py_subscriber_receive(PyObject* object, PyObject* args, PyObject* kwargs) {
    static char* keywords[] = {"timeout", NULL};
    PyObject* timeout = Py_None;
    int64_t timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:receive", keywords, &timeout) ||
        !shmbus_py_timeout_ns(timeout, &timeout_ns)) {
        return NULL;
    }
    return receive((shmbus_py_subscriber*)object, timeout_ns);
}

PyObject* shmbus_py_subscriber_next(PyObject* object) {
    return receive((shmbus_py_subscriber*)object, SHMBUS_WAIT_FOREVER);
}

PyObject* shmbus_py_subscriber_wait(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    static char* keywords[] = {"timeout", NULL};
    PyObject* timeout = Py_None;
    int64_t timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:wait", keywords, &timeout) ||
        !shmbus_py_timeout_ns(timeout, &timeout_ns) || shmbus_py_subscriber_handle(self) == NULL ||
        !shmbus_py_subscriber_release_current(self)) {
        return NULL;
    }
    int status = wait_released(self, timeout_ns);
    if (status == INTERRUPTED) return NULL;
    if (status == SHMBUS_OK) Py_RETURN_TRUE;
    if (status == SHMBUS_E_TIMED_OUT) Py_RETURN_FALSE;
    return shmbus_py_raise(status);
}

PyObject* shmbus_py_subscriber_fileno(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_subscriber* handle = shmbus_py_subscriber_handle((shmbus_py_subscriber*)object);
    if (handle == NULL) return NULL;
    int fd = shmbus_subscriber_wake_fd(handle);
    if (fd < 0) return shmbus_py_raise(fd);
    return PyLong_FromLong(fd);
}

PyObject* shmbus_py_subscriber_arm(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    shmbus_subscriber* handle = shmbus_py_subscriber_handle(self);
    if (handle == NULL || !shmbus_py_subscriber_release_current(self)) return NULL;
    int result = shmbus_subscriber_arm(handle);
    if (result < 0) return shmbus_py_raise(result);
    return PyBool_FromLong(result);
}

PyObject* shmbus_py_subscriber_ready(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_py_subscriber* self = (shmbus_py_subscriber*)object;
    shmbus_subscriber* handle = shmbus_py_subscriber_handle(self);
    if (handle == NULL || !shmbus_py_subscriber_release_current(self)) return NULL;
    int result = shmbus_subscriber_ready(handle);
    if (result < 0) return shmbus_py_raise(result);
    return PyBool_FromLong(result);
}
